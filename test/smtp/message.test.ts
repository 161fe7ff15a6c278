import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  buildMessage,
  dotStuff,
  dotUnstuff,
  encodeData,
  generatedBody,
  normalizeLineEndings,
  readMessageId,
  MESSAGE_ID_HEADER,
} from "../../smtp/message.js";

test("dot-stuffing doubles a leading dot on every line", () => {
  assert.equal(dotStuff(Buffer.from(".a\r\nb\r\n..c\r\n.\r\n")).toString(), "..a\r\nb\r\n...c\r\n..\r\n");
  assert.equal(dotStuff(Buffer.from("no dots")).toString(), "no dots");
});

test("end of data is appended without an extra empty line", () => {
  assert.equal(encodeData(Buffer.from("a\r\n")).toString(), "a\r\n.\r\n");
  assert.equal(encodeData(Buffer.from("a")).toString(), "a\r\n.\r\n");
  assert.equal(encodeData(Buffer.from("")).toString(), "\r\n.\r\n");
});

test("a lone dot line inside a body can never end the data early", () => {
  const wire = encodeData(normalizeLineEndings("line\n.\nafter\n")).toString();
  assert.equal(wire.indexOf("\r\n.\r\n"), wire.length - 5);
});

test("bare LF and bare CR are normalised to CRLF", () => {
  assert.equal(normalizeLineEndings("a\nb\rc\r\nd").toString(), "a\r\nb\r\nc\r\nd");
});

test("line ending normalisation agrees with a plain rewrite, and leaves clean data uncopied", () => {
  const text = fc.array(fc.constantFrom("a", ".", " ", "\r", "\n", "\r\n", "é"), { maxLength: 40 }).map((a) => a.join(""));
  fc.assert(
    fc.property(text, (s) => {
      assert.equal(normalizeLineEndings(s).toString(), s.replace(/\r\n|\r|\n/g, "\r\n"));
    }),
  );
  const clean = Buffer.from("a\r\nb\r\n");
  assert.equal(normalizeLineEndings(clean), clean);
});

test("generated bodies have the exact size and CRLF lines", () => {
  for (const n of [0, 1, 2, 3, 84, 85, 86, 1000, 65537]) {
    const b = generatedBody(n);
    assert.equal(b.length, n);
    assert.equal(normalizeLineEndings(b).length, n, `size ${n} has bare line endings`);
  }
  assert.throws(() => generatedBody(-1), RangeError);
});

test("buildMessage carries the ledger id header", () => {
  const m = buildMessage({ from: "a@x.example", to: ["b@y.example"], id: "abc-1", body: "hi\n" });
  assert.equal(m.id, "abc-1");
  assert.match(m.data.toString(), new RegExp(`\\r\\n${MESSAGE_ID_HEADER}: abc-1\\r\\n`));
  assert.equal(readMessageId(m.data), "abc-1");
  assert.ok(m.data.toString().endsWith("\r\n\r\nhi\r\n"));
  const g = buildMessage({ from: "a@x.example", to: ["b@y.example"], size: 1000 });
  assert.notEqual(g.id, buildMessage({ from: "a@x.example", to: ["b@y.example"] }).id);
  assert.equal(readMessageId(g.data), g.id);
});

test("readMessageId only looks at the header section", () => {
  assert.equal(readMessageId(`Subject: x\r\n\r\n${MESSAGE_ID_HEADER}: fake\r\n`), null);
  assert.equal(readMessageId(`subject: x\nx-smtpchaos-id:   z9\n\nbody`), "z9");
});

test("property: unstuffing what was stuffed gives the data back", () => {
  const line = fc.array(fc.constantFrom(".", "a", " ", ".."), { maxLength: 5 }).map((a) => a.join(""));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
      const data = Buffer.from(lines.map((l) => l + "\r\n").join(""));
      const stuffed = dotStuff(data);
      assert.deepEqual(dotUnstuff(stuffed), data);
      // no line of the stuffed data is a lone dot
      assert.ok(!stuffed.toString().split("\r\n").includes("."));
    }),
  );
});
