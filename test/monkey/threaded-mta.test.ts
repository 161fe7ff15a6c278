// sys.* faults reach an MTA that does its queue and mailbox writes on worker threads (a Python
// server with a thread pool, written for the test and run through a target file): the fault
// fires at the planned rate, the server's graceful 451 is seen, the same seed replays, and a
// point its processes never reach makes the run INCONCLUSIVE rather than PASS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runMonkey, type MonkeyRunOptions } from "../../monkey/run.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { validatePlan } from "../../monkey/plan.js";
import { monkeyText } from "../../monkey/report.js";
import { seccompInstalled, SECCOMP_BIN } from "../../targets/process/syscall-shim.js";

const FIXTURE = fileURLToPath(new URL("../../../test/monkey/fixtures/threaded-mta.py", import.meta.url));
const why = seccompInstalled() ? null : `${SECCOMP_BIN} missing (run 'npm run setup:mtas')`;
const skip = why !== null && process.env.CI === undefined ? why : false;

const tmp = mkdtempSync(join(tmpdir(), "smtpchaos-threaded-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const file = join(tmp, "threaded.target.yaml");
writeFileSync(
  file,
  `summary: a threaded Python MTA written for the tests (queue and mailbox writes on a thread pool)
requires: [python3]
domain: test.example
mailboxes: [user]
directories: [spool, Maildir, log]
start: [python3, ${JSON.stringify(FIXTURE)}, "{{port}}", "{{host6}}", "{{dir}}/spool", "{{dir}}/Maildir", "{{dir}}/log/mta.log"]
master: daemon
logs: [log/mta.log]
crash: ['Traceback']
maildirs: [Maildir]
queueSize: { command: [sh, -c, 'ls {{dir}}/spool/new | wc -l'], parse: count }
`,
);

const run = (plan: Record<string, unknown>, seed: number, extra: Partial<MonkeyRunOptions> = {}) =>
  runMonkey({ seed, concurrency: 1, durationMs: 30_000, maxSessions: 40, timeoutMs: 5000, drainTimeoutMs: 10_000, plan: validatePlan({ points: plan }), createTarget: (x) => monkeyTarget(file, x), ...extra });

test("sys.* on a thread-pool MTA: fsync fails on its worker threads at the planned rate, the server answers 451, and the seed replays", { skip, timeout: 180_000 }, async () => {
  if (why !== null) throw new Error(`the seccomp supervisor is required in CI: ${why}`);
  const plan = { "sys.daemon.fsync": { probability: 0.25, action: "error", errno: "EIO" } };
  const a = await run(plan, 5);
  assert.equal(a.findingCount, 0, monkeyText(a));
  assert.equal(a.verdict, "pass", monkeyText(a));
  const reach = a.reach[0];
  assert.ok(reach !== undefined && reach.mechanism === "seccomp" && reach.reached, JSON.stringify(reach));
  assert.equal(reach.processes, 1, "one process, many threads");
  // two fsyncs per accepted message (queue, mailbox); a failed queue fsync ends the message
  const rate = reach.fired / (reach.eligible ?? 1);
  assert.ok(rate > 0.1 && rate < 0.45, `about a quarter of the fsyncs failed: ${reach.fired}/${reach.eligible}`);
  assert.ok(a.outcomes.tempfail > 0, "the server's graceful 451 was seen");
  assert.equal(a.outcomes.tempfail + a.outcomes.ok, a.sessions);
  assert.equal((a.perFault["sys.daemon.fsync"]?.tempfail ?? 0), a.outcomes.tempfail, "each 451 is charged to the fault that fired during its session");
  assert.ok(a.ledgerAfterRestart !== null && a.ledgerAfterRestart.lost === 0 && a.ledgerAfterRestart.duplicates === 0);
  const b = await run(plan, 5);
  assert.deepEqual([b.outcomes, b.reach[0]?.fired, b.reach[0]?.eligible], [a.outcomes, reach.fired, reach.eligible], "one client at a time: the same seed fails the same calls");
});

test("sys.* on a thread-pool MTA: a call its processes never make is INCONCLUSIVE, named with the reason", { skip, timeout: 120_000 }, async () => {
  if (why !== null) throw new Error(`the seccomp supervisor is required in CI: ${why}`);
  const r = await run({ "sys.daemon.connect": { always: true, action: "error", errno: "ECONNREFUSED" } }, 5, { maxSessions: 10 });
  assert.equal(r.findingCount, 0, monkeyText(r));
  assert.equal(r.verdict, "inconclusive", monkeyText(r));
  assert.match(r.reach[0]?.reason ?? "", /^no process of role daemon (was seen calling|called) connect/);
  assert.equal(r.perFault["sys.daemon.connect"], undefined, "no session is charged to it");
  assert.equal(r.outcomes.ok, r.sessions);
});
