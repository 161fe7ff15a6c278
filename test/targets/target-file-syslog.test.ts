// `syslog: true` in a target file: an MTA that logs only through syslog(3) gets a /dev/log of its
// own (in its private mount namespace; the host's /dev is untouched), and what it logs there
// reaches the target's log and its crash patterns. The logging program is python3's syslog
// module, which calls glibc's syslog(): datagram first, then the stream socket we serve.
// Needs root (a mount namespace); in CI a missing root or python3 fails the test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createTarget } from "../../targets/registry.js";
import { parseTargetFile } from "../../targets/file/spec.js";
import type { FileTarget } from "../../targets/file/target.js";
import { mtaAvailability, requireMta, sendOne, waitFor } from "./helpers.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";
const STANDIN = fileURLToPath(new URL("./fixtures/standin-mta.js", import.meta.url));
const { why, skip } = mtaAvailability("syslog target", PYTHON);
const tmp = mkdtempSync(join(tmpdir(), "smtpchaos-syslog-target-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** python3 calling glibc's syslog(3): one record, LOG_MAIL, tagged `standin-sys` with the pid. */
const pySyslog = (severity: string, message: string): string[] => [PYTHON, "-c", `import syslog, sys; syslog.openlog("standin-sys", syslog.LOG_PID, syslog.LOG_MAIL); syslog.syslog(syslog.LOG_${severity}, sys.argv[1])`, message];

function targetFile(): string {
  const path = join(tmp, "standin-syslog.target.yaml");
  const [py, c, script] = pySyslog("NOTICE", "");
  writeFileSync(
    path,
    `summary: the stand-in MTA, announcing itself through syslog(3)
requires: [${JSON.stringify(process.execPath)}, ${PYTHON}]
root: true
isolateDns: true
syslog: true
directories: [spool, Maildir, log]
files:
  standin.json: |
    {"port": {{port}}, "host6": "{{host6}}", "spool": "{{dir}}/spool", "maildir": "{{dir}}/Maildir",
     "delayMs": 0, "log": "{{dir}}/log/standin.log"}
# the start command logs two records (one with a newline of its own) before it becomes the daemon
start: [sh, -c, '"$0" "$1" "$2" "$3" && exec "$4" "$5" daemon "$6"', ${JSON.stringify(py)}, ${JSON.stringify(c)}, ${JSON.stringify(script)}, "starting up\\nsecond line of it", ${JSON.stringify(process.execPath)}, ${JSON.stringify(STANDIN)}, "{{dir}}/standin.json"]
master: daemon
roles: { queue-runner: 'standin-mta\\.js runner' }
logs: [log/standin.log]
crash: ['standin-sys\\[\\d+\\]: panic:']
maildirs: [Maildir]
`,
  );
  return path;
}

test("syslog: true needs root: true (a mount namespace), like isolateDns; it is off by default", () => {
  assert.throws(() => parseTargetFile("start: [x]\nmaildirs: [M]\nsyslog: true\n", "a.target.yaml", "a"), /syslog: needs root: true/);
  assert.throws(() => parseTargetFile("start: [x]\nmaildirs: [M]\nsyslog: yes please\n", "a.target.yaml", "a"), /syslog: expected true or false/);
  assert.equal(parseTargetFile("start: [x]\nmaildirs: [M]\n", "a.target.yaml", "a").syslog, false);
  assert.equal(parseTargetFile("start: [x]\nmaildirs: [M]\nroot: true\nsyslog: true\n", "a.target.yaml", "a").syslog, true);
});

test("syslog: true: records the MTA sends to syslog(3) come into the target's log through its own /dev/log; the host's /dev is untouched", { skip }, async (t) => {
  requireMta("syslog target", why);
  const hostHadDevLog = existsSync("/dev/log");
  const dir = join(tmp, "instance");
  const target = createTarget(targetFile(), { dir }) as FileTarget;
  t.after(() => target.stop());
  await target.start();
  const pid = String(target.pid);
  await waitFor("the start command's syslog records", async () => target.logs().some((l) => /^\w{3} [ \d]\d \d\d:\d\d:\d\d mail\.notice standin-sys\[\d+\]: starting up$/.test(l)));
  assert.ok(target.logs().some((l) => / mail\.notice standin-sys\[\d+\]: second line of it$/.test(l)), `its own newline continues the record under its head:\n${target.logs().join("\n")}`);
  // inside the namespace: /dev/log is ours, the device nodes and submounts of /dev still work
  const inside = await run("nsenter", ["-t", pid, "-m", "sh", "-c", 'readlink /dev/log && echo x > /dev/null && head -c 8 /dev/urandom | wc -c && test -c /dev/pts/ptmx && echo pts ok']);
  const [link, bytes, pts] = inside.stdout.trim().split("\n");
  assert.equal(link, join(dir, "syslog.sock"));
  assert.equal(bytes, "8");
  assert.equal(pts, "pts ok", "the host's /dev/pts is mounted again over the overlay");
  // util-linux logger (its own framing: newline-terminated) through the same /dev/log
  await run("nsenter", ["-t", pid, "-m", "logger", "-p", "mail.warning", "-t", "viaLogger", "framed by a newline"]);
  await waitFor("logger's record", async () => target.logs().some((l) => / mail\.warning viaLogger: framed by a newline$/.test(l)));
  // the MTA still works, and a syslog line is not a crash unless a pattern says so
  const { replies } = await sendOne("127.0.0.1", target.endpoint.port, "user@test.example");
  assert.equal(replies.at(-1)?.code, 250);
  assert.equal(target.crash(), null);
  assert.equal(existsSync("/dev/log"), hostHadDevLog, "the host's /dev is as it was");
  await target.stop();
  assert.equal(existsSync(join(dir, "syslog.sock")), false, "the socket is removed at stop");
});

test("syslog: true: a crash pattern matching a syslog line is detected as a crash, with that line; a restart listens again", { skip }, async (t) => {
  requireMta("syslog target", why);
  const target = createTarget(targetFile()) as FileTarget;
  t.after(() => target.stop());
  await target.start();
  // a process of the MTA (here: one entered into its namespace) logs its own death through syslog(3)
  await run("nsenter", ["-t", String(target.pid), "-m", ...pySyslog("CRIT", "panic: queue directory vanished")]);
  const crash = await waitFor("the crash report", async () => target.crash());
  assert.equal(crash.source, "log");
  assert.match(crash.line ?? "", /mail\.crit standin-sys\[\d+\]: panic: queue directory vanished$/);
  await target.restart();
  assert.equal(target.crash(), null, "a restart starts clean");
  await waitFor("the start command's syslog records after the restart", async () => target.logs().filter((l) => / standin-sys\[\d+\]: starting up$/.test(l)).length >= 2);
});
