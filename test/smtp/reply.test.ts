import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseReplies, replyClass, matchEnhanced, matchCode, parseEnhanced, ReplyParser } from "../../smtp/reply.js";
import { SmtpProtocolError } from "../../smtp/errors.js";
import { Capabilities } from "../../smtp/capabilities.js";

test("single-line reply with enhanced code", () => {
  const [r] = parseReplies("451 4.3.0 Temporary lookup failure\r\n");
  assert.ok(r);
  assert.equal(r.code, 451);
  assert.equal(r.klass, "tempfail");
  assert.deepEqual(r.enhanced, { klass: 4, subject: 3, detail: 0, text: "4.3.0" });
  assert.equal(r.text, "4.3.0 Temporary lookup failure");
  assert.equal(r.bareLineEnding, false);
});

test("multi-line EHLO reply and its capabilities", () => {
  const [r] = parseReplies("250-mx.test.example Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH=LOGIN PLAIN\r\n250 8BITMIME\r\n");
  assert.ok(r);
  assert.equal(r.lines.length, 5);
  assert.equal(r.raw.split("\r\n").length, 6);
  const caps = Capabilities.fromEhlo(r);
  assert.ok(caps.has("pipelining"));
  assert.equal(caps.size(), 10240000);
  assert.deepEqual(caps.params("AUTH"), ["LOGIN", "PLAIN"]);
  assert.deepEqual(caps.names(), ["PIPELINING", "SIZE", "AUTH", "8BITMIME"]);
  assert.equal(caps.has("STARTTLS"), false);
});

test("a bare code with no text is a complete reply", () => {
  const [r] = parseReplies("250\r\n");
  assert.equal(r?.code, 250);
  assert.equal(r?.text, "");
});

test("replies terminated by bare LF are parsed but flagged", () => {
  const [r] = parseReplies("220 hi\n");
  assert.equal(r?.bareLineEnding, true);
});

test("reply classes", () => {
  assert.equal(replyClass(250), "ok");
  assert.equal(replyClass(354), "intermediate");
  assert.equal(replyClass(421), "tempfail");
  assert.equal(replyClass(554), "permfail");
  assert.throws(() => replyClass(150), RangeError);
});

test("malformed replies are protocol errors naming the line", () => {
  const bad: Array<[string, RegExp]> = [
    ["hello\r\n", /3-digit code/],
    ["\r\n", /empty line/],
    ["150 what\r\n", /3-digit code/],
    ["25 x\r\n", /3-digit code/],
    ["250x ok\r\n", /space or hyphen/],
    ["250-first\r\n251 second\r\n", /continuation line has code 251/],
    ["250-unfinished\r\n", /truncated/],
  ];
  for (const [input, why] of bad) {
    assert.throws(() => parseReplies(input), (e: unknown) => e instanceof SmtpProtocolError && why.test(e.message), input);
  }
});

test("the parser recovers after a malformed line", () => {
  const p = new ReplyParser();
  assert.throws(() => p.push({ text: "garbage", ending: "CRLF" }), SmtpProtocolError);
  assert.equal(p.push({ text: "250 ok", ending: "CRLF" })?.code, 250);
});

test("enhanced codes must agree with the reply class", () => {
  assert.equal(parseEnhanced(250, "4.3.0 odd"), null);
  assert.equal(parseEnhanced(550, "5.1.1 unknown")?.text, "5.1.1");
  assert.equal(parseEnhanced(550, "5.1.1x unknown"), null);
});

test("enhanced code and reply code patterns", () => {
  const e = parseEnhanced(421, "4.7.1 go away");
  assert.ok(matchEnhanced(e, "4.7.1"));
  assert.ok(matchEnhanced(e, "4.7.*"));
  assert.ok(matchEnhanced(e, "4.*.*"));
  assert.ok(matchEnhanced(e, "4"));
  assert.ok(!matchEnhanced(e, "4.7.2"));
  assert.ok(!matchEnhanced(e, "5.*.*"));
  assert.ok(!matchEnhanced(null, "4.*.*"));
  assert.ok(matchCode(451, "4xx"));
  assert.ok(matchCode(451, "45x"));
  assert.ok(!matchCode(451, "5xx"));
});

test("property: any well-formed reply round-trips", () => {
  const text = fc.stringMatching(/^[ -~]{0,40}$/);
  fc.assert(
    fc.property(fc.integer({ min: 200, max: 599 }), fc.array(text, { minLength: 1, maxLength: 6 }), (code, lines) => {
      const wire = lines.map((l, i) => `${code}${i === lines.length - 1 ? " " : "-"}${l}\r\n`).join("");
      const replies = parseReplies(wire);
      assert.equal(replies.length, 1);
      assert.equal(replies[0]?.code, code);
      assert.deepEqual(replies[0]?.lines, lines);
      assert.equal(replies[0]?.raw, wire);
    }),
  );
});

test("property: arbitrary bytes either parse or raise SmtpProtocolError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      try {
        parseReplies(Buffer.from(bytes));
      } catch (e) {
        assert.ok(e instanceof SmtpProtocolError, String(e));
      }
    }),
  );
});
