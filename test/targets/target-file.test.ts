// An MTA the toolkit does not know, added only through a target file: a stand-in daemon written
// for the test (a queue runner that delivers seconds late, respawned when killed). target
// start/status/stop, suite run, storm and monkey run (process faults, restart, ledger) all work
// with it, and a bad target file reports every problem at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTarget, targetPlugin } from "../../targets/registry.js";
import { TargetFileError } from "../../targets/file/spec.js";
import type { FileTarget } from "../../targets/file/target.js";
import { runMonkey } from "../../monkey/run.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { validatePlan } from "../../monkey/plan.js";
import { monkeyText } from "../../monkey/report.js";
import { sendOne, waitFor } from "./helpers.js";
import { runCli as spawnCli, SMTPCHAOS } from "../cli/spawn.js";

const runCli = (args: string[]) => spawnCli(SMTPCHAOS, args);

const STANDIN = fileURLToPath(new URL("./fixtures/standin-mta.js", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "smtpchaos-target-file-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function targetFile(name: string, extra: { loseEvery?: number; delayMs?: number; noQueueCommands?: boolean } = {}): string {
  const path = join(tmp, `${name}.target.yaml`);
  writeFileSync(
    path,
    `# a stand-in MTA: a daemon and a queue runner that delivers late
summary: stand-in MTA written for the tests
requires: [${JSON.stringify(process.execPath)}]
domain: test.example
mailboxes: [user, postmaster]
directories: [spool, Maildir, log]
files:
  standin.json: |
    {"port": {{port}}, "host6": "{{host6}}", "spool": "{{dir}}/spool", "maildir": "{{dir}}/Maildir",
     "delayMs": ${extra.delayMs ?? 2000}, "log": "{{dir}}/log/standin.log", "loseEvery": ${extra.loseEvery ?? 0}}
start: [${JSON.stringify(process.execPath)}, ${JSON.stringify(STANDIN)}, daemon, "{{dir}}/standin.json"]
master: daemon
roles:
  queue-runner: 'standin-mta\\.js runner'
stallRole: queue-runner
logs: [log/standin.log]
crash: ['fatal:']
maildirs: [Maildir]
${
  extra.noQueueCommands === true
    ? ""
    : `flush: [sh, -c, 'touch {{dir}}/flush']
queueSize: { command: [sh, -c, 'ls {{dir}}/spool | grep -c "msg$" || true'], parse: count }
queueList: { command: [sh, -c, 'cat {{dir}}/spool/*.msg 2>/dev/null | grep -i "^X-Smtpchaos-Id:" || true'], parse: ids }
`
}`,
  );
  return path;
}

test("a bad target file reports every problem with its path, at once", () => {
  const path = join(tmp, "bad.target.yaml");
  writeFileSync(path, `nmae: x\nstart: []\nroles: { q: "(" }\nfiles: { a.conf: "{{prot}}", "../b": "" }\nqueueSize: { command: [x], parse: words }\nqueueList: { command: [x], parse: count }\nisolateDns: true\n`);
  assert.throws(
    () => targetPlugin(path),
    (e: unknown) => {
      assert.ok(e instanceof TargetFileError);
      const text = e.problems.join("\n");
      for (const re of [/nmae: unknown field/, /start: expected a command/, /maildirs: required/, /roles\.q: not a regular expression/, /unknown placeholder \{\{prot\}\}/, /"\.\.\/b"\]: must be a path inside/, /queueSize\.parse/, /queueList\.parse: expected "ids"/, /isolateDns: needs root/]) {
        assert.match(text, re);
      }
      assert.ok(e.message.startsWith(path));
      return true;
    },
  );
  assert.throws(() => targetPlugin("no-such-target"), /unknown target "no-such-target"/);
  // not a regular file, or far too big to be one: refused before it is read
  assert.throws(() => targetPlugin("/dev/zero.target.yaml"), TargetFileError);
  const big = join(tmp, "big.target.yaml");
  writeFileSync(big, "# " + "x".repeat(2 * 1024 * 1024) + "\n");
  assert.throws(() => targetPlugin(big), /larger than 1048576 bytes/);
});

test("target file: starts, delivers late through its queue, knows its roles, flushes, and keeps its spool across a restart", async (t) => {
  const target = createTarget(targetFile("standin")) as FileTarget;
  t.after(() => target.stop());
  await target.start();
  assert.equal(target.name, "standin");
  const roles = (await target.processes()).map((p) => p.role).sort();
  assert.deepEqual(roles, ["daemon", "queue-runner"]);
  const { id } = await sendOne("127.0.0.1", target.endpoint.port, "user@test.example");
  assert.equal(await target.queueSize(), 1, "queued, not yet delivered");
  assert.deepEqual(await target.queueIds(), [id], "the file's queueList names it");
  assert.deepEqual(await target.deliveredIds(), { delivered: [], bounced: [] });
  await target.flushQueue();
  await waitFor("delivery after the flush", async () => (await target.deliveredIds()).delivered.includes(id));
  assert.equal(await target.queueSize(), 0);
  // queued mail survives a restart, and the log file is followed into the target's log
  const { id: late } = await sendOne("127.0.0.1", target.endpoint.port, "user@test.example");
  await target.restart();
  await target.flushQueue();
  await waitFor("delivery after the restart", async () => (await target.deliveredIds()).delivered.includes(late));
  await waitFor("the stand-in's log file in the target's log", async () => target.logs().some((l) => /standin\[\d+\] daemon: listening/.test(l)));
});

test("the example target file of the README starts and names its roles", async (t) => {
  const example = fileURLToPath(new URL("../../../examples/targets/standin.target.yaml", import.meta.url));
  const target = createTarget(example) as FileTarget;
  t.after(() => target.stop());
  await target.start();
  assert.equal(target.name, "standin");
  assert.deepEqual(target.describeFaults().roles, ["daemon", "queue-runner"]);
  assert.equal((await target.status()).banner?.ok, true);
});

test("target file through the CLI: target start, status and stop; storm; suite run", async () => {
  const file = targetFile("standin-cli");
  const state = join(tmp, "state");
  const start = await runCli(["target", "start", file, "--state", state]);
  assert.equal(start.code, 0, start.stderr);
  try {
    const status = await runCli(["target", "status", file, "--state", state]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /running/);
  } finally {
    const stop = await runCli(["target", "stop", file, "--state", state]);
    assert.equal(stop.code, 0, stop.stderr);
  }
  const storm = await runCli(["storm", "--target", file, "--sessions", "4", "--duration", "2s"]);
  assert.equal(storm.code, 0, storm.stdout + storm.stderr);
  assert.match(storm.stdout, /storm against standin-cli/);
  const suite = await runCli(["suite", "run", "--target", file, "rfc5321"]);
  assert.ok(suite.code === 0 || suite.code === 1, `suite ran (exit ${suite.code}): ${suite.stderr}`);
  assert.match(suite.stdout, /rfc5321/);
});

test("target file under the monkey: process faults on its roles, the restart and the ledger; a late queue is not a loss, a lost message is exactly counted", async () => {
  const plan = validatePlan({ points: { "pause.queue-runner": { probability: 0.5, duration: "300ms", interval: "500ms" }, "kill.queue-runner": { every: 3, interval: "700ms" } } });
  const clean = await runMonkey({ seed: 7, concurrency: 2, durationMs: 4000, maxSessions: 60, timeoutMs: 5000, drainTimeoutMs: 20_000, plan, createTarget: (extra) => monkeyTarget(targetFile("standin-monkey"), extra) });
  assert.equal(clean.verdict, "pass", monkeyText(clean));
  const fired = Object.fromEntries(clean.points.map((p) => [p.point, p.fired]));
  assert.ok((fired["pause.queue-runner"] ?? 0) > 0 && (fired["kill.queue-runner"] ?? 0) > 0, `the roles were paused and killed: ${JSON.stringify(fired)}`);
  assert.ok(clean.ledgerAfterRestart !== null && clean.ledgerAfterRestart.accepted > 10);
  assert.equal(clean.ledgerAfterRestart.lost, 0);
  assert.equal(clean.ledgerAfterRestart.duplicates, 0);

  const lossy = targetFile("standin-lossy", { loseEvery: 4, delayMs: 1000 });
  let lostInLog = 0;
  const r = await runMonkey({
    seed: 7,
    concurrency: 2,
    durationMs: 3000,
    maxSessions: 30,
    timeoutMs: 5000,
    drainTimeoutMs: 20_000,
    plan: validatePlan({ points: {} }),
    restart: false,
    createTarget: (extra) => {
      const m = monkeyTarget(lossy, extra);
      const target = m.target as FileTarget;
      const stop = target.stop.bind(target);
      // count the stand-in's own confessions before its directory goes away
      target.stop = async () => {
        lostInLog = readFileSync(join(target.workDir, "log", "standin.log"), "utf8").split("\n").filter((l) => l.includes("(on purpose)")).length;
        await stop();
      };
      return m;
    },
  });
  assert.equal(r.verdict, "findings");
  assert.ok(lostInLog > 0);
  assert.equal(r.ledger?.lost, lostInLog, monkeyText(r));
});

test("target file without queue commands: its queue is not observable, the ledger waits for the Maildirs to settle, and late mail is not lost", async () => {
  const r = await runMonkey({
    seed: 9,
    concurrency: 2,
    durationMs: 2000,
    maxSessions: 20,
    timeoutMs: 5000,
    drainTimeoutMs: 20_000,
    restart: false,
    plan: validatePlan({ points: {} }),
    createTarget: (extra) => monkeyTarget(targetFile("standin-unobservable", { noQueueCommands: true, delayMs: 1500 }), extra),
  });
  assert.equal(r.verdict, "pass", monkeyText(r));
  assert.ok((r.ledger?.accepted ?? 0) > 5);
  assert.equal(r.ledger?.lost, 0);
  assert.match(monkeyText(r), /not observable/);
});

test("prepare runs a list of commands in order, and a failing one says its exit status and output; a missing expectations file is a target-file error", async (t) => {
  const dir = mkdtempSync(join(tmp, "prep-"));
  const base = (prepare: string, extra = ""): string => {
    const path = join(dir, `p${Math.random().toString(36).slice(2)}.target.yaml`);
    writeFileSync(
      path,
      `summary: prepare test
requires: [${JSON.stringify(process.execPath)}]
domain: test.example
mailboxes: [user]
directories: [spool, Maildir, log]
files:
  standin.json: |
    {"port": {{port}}, "host6": "{{host6}}", "spool": "{{dir}}/spool", "maildir": "{{dir}}/Maildir", "delayMs": 100, "log": "{{dir}}/log/standin.log", "loseEvery": 0}
start: [${JSON.stringify(process.execPath)}, ${JSON.stringify(STANDIN)}, daemon, "{{dir}}/standin.json"]
master: daemon
logs: [log/standin.log]
maildirs: [Maildir]
prepare: ${prepare}
${extra}`,
    );
    return path;
  };
  const ok = createTarget(base(`[[sh, -c, 'echo one > {{dir}}/order'], [sh, -c, 'echo two >> {{dir}}/order']]`)) as FileTarget;
  t.after(() => ok.stop());
  await ok.start();
  assert.equal(readFileSync(join(ok.workDir, "order"), "utf8"), "one\ntwo\n", "both, in order");
  await ok.stop();
  const failing = createTarget(base(`[[sh, -c, 'true'], [sh, -c, 'echo "no such table" >&2; exit 3']]`)) as FileTarget;
  t.after(() => failing.stop());
  await assert.rejects(failing.start(), (err: Error) => {
    assert.match(err.message, /failed \(exit status 3\):\nno such table/);
    return true;
  });
  assert.throws(() => targetPlugin(base(`[sh, -c, "exit 0"]`, "expectations: nowhere.yaml\n")), (err: unknown) => err instanceof TargetFileError && /expectations: .*nowhere\.yaml does not exist/.test(err.message));
});
