// The syslog receiver on its own: records as glibc, util-linux logger and RFC 5424 senders frame
// them become readable lines, bounded per connection, and the socket is gone after close.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { listenSyslog, parseSyslogRecord, priorityName, SyslogFramer } from "../../targets/process/syslog-socket.js";
import { waitFor } from "./helpers.js";

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), "smtpchaos-syslog-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test("records parse into time, priority, tag and message (BSD and RFC 5424); text without <PRI> is all message", () => {
  assert.equal(priorityName(22), "mail.info");
  assert.equal(priorityName(2 * 8 + 2), "mail.crit");
  assert.equal(priorityName(23 * 8 + 7), "local7.debug");
  assert.deepEqual(parseSyslogRecord("<22>Dec  7 20:37:21 sm-mta[7229]: 1B7KbL: from=<a@b>"), { priority: "mail.info", time: "Dec  7 20:37:21", tag: "sm-mta[7229]", message: "1B7KbL: from=<a@b>" });
  assert.deepEqual(parseSyslogRecord("<13>Dec 17 01:02:03 tagA: hello"), { priority: "user.notice", time: "Dec 17 01:02:03", tag: "tagA", message: "hello" });
  assert.deepEqual(parseSyslogRecord("<13>no header at all"), { priority: "user.notice", time: null, tag: null, message: "no header at all" });
  assert.deepEqual(parseSyslogRecord('<165>1 2026-12-07T20:00:00.1Z mx app 42 ID47 [x@1 a="\\]"][y@2] \uFEFFbody'), { priority: "local4.notice", time: "2026-12-07T20:00:00.1Z", tag: "app[42]", message: "body" });
  assert.deepEqual(parseSyslogRecord("<14>1 - - - - - -"), { priority: "user.info", time: null, tag: null, message: "" });
  assert.deepEqual(parseSyslogRecord("plain"), { priority: null, time: null, tag: null, message: "plain" });
  assert.equal(parseSyslogRecord("<999>Dec  7 20:37:21 x: y").priority, null, "no facility that large");
});

test("the framer splits at NUL and newline across chunks, shows a record's own newlines under its head, escapes control characters, and cuts a record at the bound", () => {
  const lines: string[] = [];
  const f = new SyslogFramer((l) => lines.push(l), 64);
  f.push(Buffer.from("<18>Dec  7 20:37:21 sm[1]: first line\nsecond"));
  assert.deepEqual(lines, ["Dec  7 20:37:21 mail.crit sm[1]: first line"], "the unterminated rest is held");
  f.push(Buffer.from(" line\0<22>Dec  7 20:37:22 sm[2]: x\x1b[2Jy\0\0"));
  f.push(Buffer.from("<22>Dec  7 20:37:23 sm[3]: " + "z".repeat(100) + "\0"));
  f.push(Buffer.from("<22>Dec  7 20:37:24 sm[4]: tail without terminator"));
  f.end();
  assert.deepEqual(lines, [
    "Dec  7 20:37:21 mail.crit sm[1]: first line",
    "Dec  7 20:37:21 mail.crit sm[1]: second line",
    "Dec  7 20:37:22 mail.info sm[2]: x\\x1b[2Jy",
    `Dec  7 20:37:23 mail.info sm[3]: ${"z".repeat(64 - 27)} [63 more bytes cut]`,
    "Dec  7 20:37:24 mail.info sm[4]: tail without terminator",
  ]);
});

test("listenSyslog: util-linux logger's newline-terminated records over the stream socket arrive; the socket is world-writable and removed at close", async (t) => {
  const path = join(tmp, "log.sock");
  writeFileSync(path, "");
  await assert.rejects(listenSyslog(path, () => {}), /not a socket is in the way/);
  rmSync(path);
  await assert.rejects(listenSyslog(join(tmp, "x".repeat(120)), () => {}), /longer than 107 bytes/);
  const lines: string[] = [];
  const s = await listenSyslog(path, (l) => lines.push(l));
  t.after(() => s.close());
  await run("logger", ["--socket-errors=on", "-u", path, "-p", "mail.err", "-t", "logtest", "hello over a stream"]);
  await waitFor("logger's record", async () => lines.find((l) => / mail\.err logtest: hello over a stream$/.test(l)));
  // a client that holds its connection open and sends half a record is ended at close
  const c = net.connect(path);
  await new Promise((r) => c.once("connect", r));
  c.write("<11>Dec  7 20:00:00 held[9]: unterminated");
  await waitFor("the half record to be read", async () => c.bytesWritten > 0);
  await new Promise((r) => setTimeout(r, 100));
  await s.close();
  assert.ok(lines.some((l) => l.endsWith("user.err held[9]: unterminated")), lines.join("\n"));
  assert.equal(existsSync(path), false, "socket removed");
  c.destroy();
  // a stale socket (a run that was killed) is replaced
  await run("python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path]);
  assert.ok(existsSync(path));
  const again = await listenSyslog(path, () => {});
  await again.close();
});
