// The one Maildir reader (targets/maildir/read.ts). A reconcile after hours of mail reads every
// delivered message's id: the ids must not keep the message heads they were read from alive (a
// substring holds its parent string in V8). Bounces are read apart, by the id of the message they
// report on; so are Postfix queue files. Whole messages and heads come in name order, new/ first;
// a box not there yet is empty, one that cannot be listed is an error, a file gone is left out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { MaildirReadError, maildirDelivered, maildirFiles, maildirIds, readMessageFile } from "../../targets/maildir/read.js";
import { fileIds } from "../../targets/message-head.js";
import { UserError } from "../../common/errors.js";
import { deliveredMessage, readMessage } from "../../targets/dsn.js";
import { queueFileId } from "../../targets/postfix/queue-file.js";
import { readMessageId } from "../../smtp/index.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

test("maildir ids: every id read, and holding 3,000 of them does not hold their 16 KB heads", async (t) => {
  const box = mkdtempSync(join(tmpdir(), "smtpchaos-ids-"));
  t.after(() => rmSync(box, { recursive: true, force: true }));
  mkdirSync(join(box, "new"));
  mkdirSync(join(box, "cur"));
  const filler = "X-Filler: " + "y".repeat(200) + "\r\n";
  const n = 3000;
  for (let i = 0; i < n; i++) {
    const head = `From: a@b.example\r\nX-Smtpchaos-Id: l9x2k7q4m1-${i.toString(36)}\r\n${filler.repeat(80)}\r\nbody\r\n`;
    writeFileSync(join(box, i % 2 === 0 ? "new" : "cur", `${i}.msg`), head);
  }
  gc();
  const before = process.memoryUsage().heapUsed;
  const { delivered: ids, bounced } = await maildirIds([box]);
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  assert.equal(ids.length, n);
  assert.equal(bounced.length, 0);
  assert.deepEqual(new Set(ids).size, n);
  assert.ok(ids.includes("l9x2k7q4m1-0") && ids.includes(`l9x2k7q4m1-${(n - 1).toString(36)}`));
  // the heads are 16 KB each (48 MB in all); the ids a few bytes each
  assert.ok(grown < 8 * 1024 * 1024, `holding ${n} ids grew the heap by ${(grown / 1048576).toFixed(1)} MiB`);
  assert.equal(readMessageId(Buffer.from("Subject: x\r\nX-Smtpchaos-Id:\tabc-1  \r\n\r\nX-Smtpchaos-Id: no\r\n")), "abc-1");
  assert.equal(readMessageId("X-Smtpchaos-Id: s-2\r\n\r\n"), "s-2");
  assert.equal(readMessageId(Buffer.from("Subject: none\r\n\r\n")), null);
});

// Bounces as the shipped MTAs deliver them (trimmed from real ones): each names the original's id in its body.
const POSTFIX_DSN = [
  "Return-Path: <>",
  "Delivered-To: sender1@client.smtpchaos.test",
  "From: Mail Delivery System <MAILER-DAEMON@test.example>",
  "Content-Type: multipart/report; report-type=delivery-status;",
  '\tboundary="B55C020C606.1796644692/mx.test.example"',
  "",
  "--B55C020C606.1796644692/mx.test.example",
  "Content-Type: message/delivery-status",
  "",
  "Final-Recipient: rfc822; nobody@test.example",
  "Action: failed",
  "",
  "--B55C020C606.1796644692/mx.test.example",
  "Content-Type: message/rfc822",
  "",
  "Return-Path: <sender1@client.smtpchaos.test>",
  "Subject: smtpchaos p-1",
  "X-Smtpchaos-Id: p-1",
  "",
  "body",
].join("\r\n");
// OpenSMTPD: no Return-Path, multipart/mixed, From: MAILER-DAEMON
const OPENSMTPD_DSN = "Delivered-To: s@client.smtpchaos.test\nSubject: Delivery status notification: failed\nFrom: Mailer Daemon <MAILER-DAEMON@mx.test.example>\nContent-Type: multipart/mixed;boundary=\"b\"\n\n--b\nContent-Type: text/rfc822-headers\n\nSubject: smtpchaos o-2\nX-Smtpchaos-Id: o-2\n\n--b--\n";
// Exim: "Return-path", and the report's Action before Final-Recipient
const EXIM_DSN = "Return-path: <>\nFrom: Mail Delivery System <Mailer-Daemon@mx.test.example>\nContent-Type: multipart/report; report-type=delivery-status; boundary=x\n\n--x\nContent-type: message/delivery-status\n\nAction: failed\nFinal-Recipient: rfc822;gilles@test.example\n\n--x\nContent-type: message/rfc822\n\nX-Smtpchaos-Id: e-3\n\n--x--\n";

test("bounces: each MTA's DSN is a bounce of the id it quotes; delay warnings and ordinary mail are not", () => {
  assert.deepEqual(readMessage(Buffer.from(POSTFIX_DSN)), { kind: "bounce", id: "p-1" });
  assert.deepEqual(readMessage(Buffer.from(OPENSMTPD_DSN)), { kind: "bounce", id: "o-2" });
  assert.deepEqual(readMessage(Buffer.from(EXIM_DSN)), { kind: "bounce", id: "e-3" });
  assert.deepEqual(readMessage(Buffer.from(POSTFIX_DSN.replace("Action: failed", "Action: delayed"))), { kind: "notice", id: "p-1" });
  assert.deepEqual(readMessage(Buffer.from("Return-Path: <>\r\nSubject: no copy\r\n\r\ngone\r\n")), { kind: "bounce", id: null });
  // an ordinary message is its own id, whatever its body quotes
  assert.deepEqual(readMessage(Buffer.from("Return-Path: <a@b.example>\r\nX-Smtpchaos-Id: m-4\r\n\r\nX-Smtpchaos-Id: m-5\r\n")), { kind: "message", id: "m-4" });
  const d = deliveredMessage("/x", Buffer.from(POSTFIX_DSN));
  assert.equal(d.id, null);
  assert.equal(d.bounceOf, "p-1");
  assert.equal(deliveredMessage("/y", Buffer.from("X-Smtpchaos-Id: m-6\r\n\r\n")).bounceOf, undefined);
});

test("bounces: a Maildir's bounces are read apart, one whose copy of the original starts past the first 16 KB too", async (t) => {
  const box = mkdtempSync(join(tmpdir(), "smtpchaos-dsn-"));
  t.after(() => rmSync(box, { recursive: true, force: true }));
  mkdirSync(join(box, "new"));
  writeFileSync(join(box, "new", "1"), "X-Smtpchaos-Id: m-1\r\n\r\nhi\r\n");
  writeFileSync(join(box, "new", "2"), POSTFIX_DSN);
  writeFileSync(join(box, "new", "3"), POSTFIX_DSN.replace("Action: failed", `Action: failed\r\n${"X-Transcript: padding\r\n".repeat(2000)}`).replace(/p-1/g, "p-far"));
  writeFileSync(join(box, "new", "4"), POSTFIX_DSN.replace("Action: failed", "Action: delayed"));
  const ids = await maildirIds([box]);
  assert.deepEqual(ids.delivered, ["m-1"]);
  assert.deepEqual(ids.bounced.sort(), ["p-1", "p-far"]);
  assert.deepEqual(fileIds([join(box, "new", "1"), join(box, "new", "2"), join(box, "gone")]), ["m-1", "p-1"]);
});

/** A Postfix queue record: type, length in base 128 (low bits first), data. */
function rec(type: string, data: string): Buffer {
  const body = Buffer.from(data, "latin1");
  const len: number[] = [];
  let n = body.length;
  do {
    len.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n >>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from(type, "latin1"), Buffer.from(len), body]);
}

test("postfix queue files: the id is read from the message's records, not from a line that merely continues one", () => {
  const envelope = [rec("C", "  350  60  0 1  0  350"), rec("S", "sender1@client.smtpchaos.test"), rec("R", "user@test.example"), rec("M", "")];
  // a long line is written as 'L' records and ends with an 'N' one: that 'N' starts no line
  const long = "X-Long: " + "z".repeat(300);
  const file = Buffer.concat([...envelope, rec("N", "Subject: smtpchaos q-1"), rec("L", long), rec("N", "X-Smtpchaos-Id: not-a-header"), rec("N", "X-Smtpchaos-Id: q-1"), rec("N", ""), rec("N", "body"), rec("X", ""), rec("E", "")]);
  assert.equal(queueFileId(file), "q-1");
  assert.equal(queueFileId(Buffer.concat([...envelope, rec("N", "Subject: none"), rec("E", "")])), null);
  assert.equal(queueFileId(file.subarray(0, 40)), null, "a truncated file gives no id");
});

test("bounces: a message with its own id is that message, even delivered with the null sender", () => {
  assert.deepEqual(readMessage(Buffer.from("Return-Path: <>\r\nFrom: <s@client.smtpchaos.test>\r\nX-Smtpchaos-Id: n-1\r\n\r\nhi\r\n")), { kind: "message", id: "n-1" });
});

test("maildir files: each box's new/ then cur/, by name; whole, or the first N bytes with the file's own size", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "smtpchaos-files-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const [a, b] = [join(root, "a"), join(root, "b")];
  for (const d of [join(a, "new"), join(a, "cur"), join(b, "cur"), join(a, "new", "subdir")]) mkdirSync(d, { recursive: true });
  writeFileSync(join(a, "new", "2"), "X-Smtpchaos-Id: a-2\r\n\r\n");
  writeFileSync(join(a, "new", "1"), "X-Smtpchaos-Id: a-1\r\n\r\n");
  writeFileSync(join(a, "cur", "0:2,S"), "X-Smtpchaos-Id: a-0\r\n\r\n");
  writeFileSync(join(b, "cur", "9"), `X-Smtpchaos-Id: b-9\r\n\r\n${"z".repeat(10_000)}`);
  const boxes = [a, b, join(root, "not-yet")];
  const whole = await maildirFiles(boxes);
  assert.deepEqual(
    whole.map((f) => f.path.slice(root.length + 1)),
    ["a/new/1", "a/new/2", "a/cur/0:2,S", "b/cur/9"],
    "a sub-directory is no message, a box not there yet is empty",
  );
  assert.equal(whole[3]?.data.length, whole[3]?.size);
  const heads = await maildirFiles(boxes, 100);
  assert.equal(heads[3]?.data.length, 100);
  assert.equal(heads[3]?.size, whole[3]?.size);
  assert.equal(heads[0]?.data.toString(), "X-Smtpchaos-Id: a-1\r\n\r\n", "a file shorter than N is read whole");
  const delivered = await maildirDelivered(boxes, 100);
  assert.deepEqual(delivered.map((m) => [m.id, m.size]), [["a-1", 23], ["a-2", 23], ["a-0", 23], ["b-9", 10_023]]);
  assert.deepEqual((await maildirIds(boxes)).delivered.sort(), ["a-0", "a-1", "a-2", "b-9"]);
});

test("maildir files: a file moved or expunged after the listing is left out; a Maildir that cannot be listed is a MaildirReadError, not an empty box", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "smtpchaos-gone-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.equal(await readMessageFile(join(root, "gone")), null);
  assert.equal(await readMessageFile(join(root, "gone"), 64), null);
  // new/ a file: silently empty would count every message of this box lost
  writeFileSync(join(root, "new"), "");
  for (const read of [() => maildirIds([root]), () => maildirFiles([root]), () => maildirDelivered([root], 64)]) {
    await assert.rejects(read(), (err: unknown) => err instanceof MaildirReadError && err instanceof UserError && /cannot list a Maildir directory: ENOTDIR: .*new/.test(err.message));
  }
});
