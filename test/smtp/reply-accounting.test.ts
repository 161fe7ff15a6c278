import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ReplyAccounting } from "../../smtp/reply-accounting.js";

/** Feeds writes and replies in order; returns the violations. */
function run(events: Array<string | number>): string[] {
  const a = new ReplyAccounting();
  const out: string[] = [];
  for (const e of events) {
    if (typeof e === "string") a.wrote(e);
    else {
      const v = a.received(e);
      if (v !== null) out.push(v);
    }
  }
  return out;
}

test("a reply to every command, none unasked: no violation", () => {
  assert.deepEqual(run([220, "EHLO x\r\n", 250, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n", 250, 250, "QUIT\r\n", 221]), []);
});

test("a reply before its command is unsolicited", () => {
  const v = run([220, 250, "EHLO x\r\n"]);
  assert.equal(v.length, 1);
  assert.match(v[0] as string, /unsolicited reply 250/);
  assert.match(run([220, "NOOP\r\n", 250, 250])[0] as string, /unsolicited reply 250/);
});

test("a 421 may come unasked (RFC 5321 3.8)", () => {
  assert.deepEqual(run([220, 421]), []);
});

test("message content is not commands; the reply to the final dot is owed", () => {
  const body = "Subject: x\r\n\r\n..dot-stuffed\r\n.\r\n";
  assert.deepEqual(run([220, "MAIL FROM:<a@b>\r\n", 250, "RCPT TO:<c@d>\r\n", 250, "DATA\r\n", 354, body, 250, "QUIT\r\n", 221]), []);
  // one reply too many after the dot
  assert.equal(run([220, "DATA\r\n", 354, body, 250, 250]).length, 1);
});

test("a 250 before the final dot is a violation; a 552 giving up on the message early is not", () => {
  assert.match(run([220, "DATA\r\n", 354, "half a message\r\n", 250])[0] as string, /before the end of the message data/);
  assert.deepEqual(run([220, "DATA\r\n", 354, "half a message\r\n", 552, "rest\r\n.\r\n"]), []);
});

test("content written before the 354 is content if the 354 comes, commands if DATA is refused", () => {
  const pipelined = "DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n";
  assert.deepEqual(run([220, pipelined, 354, 250, 221]), []);
  // refused DATA: each line was a command to the server, and each gets a reply
  assert.deepEqual(run([220, pipelined, 554, 500, 500, 500, 500, 221]), []);
});

test("lines split across writes, CRLF split between writes, a dot alone at the end of a write", () => {
  assert.deepEqual(run([220, "DA", "TA\r", "\n", 354, "line\r\n.", "\r", "\n", 250, "QU", "IT\r\n", 221]), []);
  assert.equal(run([220, "DA", "TA\r", "\n", 354, "line\r\n.", "\r", "\n", 250, 250]).length, 1);
});

test("a bare-LF dot may end the data for a lax server: counted leniently, never a false violation", () => {
  // smuggling attempt: the lax server ends at LF.LF and answers the smuggled commands too
  const smuggle = "x\n.\nMAIL FROM:<e@f>\r\nRCPT TO:<g@h>\r\nDATA\r\n\r\n.\r\n";
  assert.deepEqual(run([220, "DATA\r\n", 354, smuggle, 250, 250, 250, 354, 250]), []);
  // a strict server answers once
  assert.deepEqual(run([220, "DATA\r\n", 354, smuggle, 250, "QUIT\r\n", 221]), []);
});

// A correct server model: for any command stream with any write splits, the replies it owes
// never count as unsolicited.
test("property: a correct server is never reported", () => {
  const command = fc.constantFrom("EHLO x", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "NOOP", "RSET", "", "X".repeat(20));
  const content = fc.array(fc.constantFrom("text", ".", "..", ".x", "", "DATA", "250 ok"), { maxLength: 6 });
  const step = fc.oneof(
    command.map((c) => ({ kind: "cmd" as const, line: c })),
    fc.tuple(content, fc.boolean(), fc.boolean()).map(([lines, accept, pipelined]) => ({ kind: "data" as const, lines, accept, pipelined })),
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 8 }), (steps, cuts) => {
      const a = new ReplyAccounting();
      let c = 0;
      // writes are cut into pieces of varying size, as a dribbling client would send them
      const write = (s: string): void => {
        for (let i = 0; i < s.length; ) {
          const n = cuts[c++ % cuts.length] as number;
          // strings (commands) and Buffers (message data) are scanned alike
          a.wrote(c % 2 === 0 ? s.slice(i, i + n) : Buffer.from(s.slice(i, i + n), "latin1"));
          i += n;
        }
      };
      const reply = (code: number): void => assert.equal(a.received(code), null);
      reply(220);
      for (const s of steps) {
        if (s.kind === "cmd") {
          write(s.line + "\r\n");
          reply(250);
          continue;
        }
        const stuffed = s.lines.map((l) => (l.startsWith(".") ? "." + l : l)).join("\r\n");
        const message = (stuffed === "" ? "" : stuffed + "\r\n") + ".\r\n";
        if (s.pipelined) {
          write("DATA\r\n" + message);
          if (s.accept) {
            reply(354);
            reply(250);
          } else {
            // refused: every line the client wrote was a command to the server
            reply(554);
            for (let i = 0; i < message.split("\r\n").length - 1; i++) reply(500);
          }
        } else {
          write("DATA\r\n");
          reply(s.accept ? 354 : 554);
          if (s.accept) {
            write(message);
            reply(250);
          }
        }
      }
    }),
  );
});
