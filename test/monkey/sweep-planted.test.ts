// The sweep's acceptance: a small queueing MTA written for the test (Python, run through a target
// file, its system calls failed by the seccomp supervisor) with one planted bug at one call site
// and one phase: a failed rename of its queue file is ignored and 250 is sent, so the message is
// never delivered. The sweep must find exactly that site, nothing else; random `monkey run`s of
// the same length over several seeds are reported beside it (how often they found it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runSweep } from "../../monkey/sweep/sweep.js";
import { sweepText } from "../../monkey/sweep/outputs/text.js";
import { runMonkey } from "../../monkey/run.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { validatePlan } from "../../monkey/plan.js";
import { seccompInstalled, SECCOMP_BIN, SHIM_CALLS } from "../../targets/process/syscall-shim.js";

const FIXTURE = fileURLToPath(new URL("../../../test/monkey/fixtures/planted-bug-mta.py", import.meta.url));
const why = seccompInstalled() ? null : `${SECCOMP_BIN} missing (run 'npm run setup:mtas')`;
const skip = why !== null && process.env.CI === undefined ? why : false;

const tmp = mkdtempSync(join(tmpdir(), "smtpchaos-planted-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const file = join(tmp, "planted.target.yaml");
writeFileSync(
  file,
  `summary: a queueing Python MTA with one planted bug (a failed queue rename is ignored and 250 is sent)
requires: [python3]
domain: test.example
mailboxes: [user]
directories: [spool, Maildir, log]
start: [python3, ${JSON.stringify(FIXTURE)}, "{{port}}", "{{dir}}/spool", "{{dir}}/Maildir", "{{dir}}/log/mta.log"]
# it listens on 127.0.0.1 only
ipv6: false
master: daemon
logs: [log/mta.log]
crash: ['Traceback']
maildirs: [Maildir]
queueSize: { command: [sh, -c, 'ls {{dir}}/spool/queue | wc -l'], parse: count }
`,
);

test("monkey sweep finds the one planted bug (a failed queue rename answered 250) at exactly its site and phase; random runs of the same length are reported beside it", { skip, timeout: 600_000 }, async (t) => {
  if (why !== null) throw new Error(`the seccomp supervisor is required in CI: ${why}`);
  const r = await runSweep({ createTarget: (x) => monkeyTarget(file, x), targetRef: file, seed: 1, points: null, phases: null, choice: {}, budgetMs: 300_000, timeoutMs: 5000 });
  const found = r.failureIds.filter((f) => f.outcome === "findings");
  assert.equal(r.verdict, "findings", sweepText(r));
  const sites = [...new Set(found.map((f) => `${f.point}@${f.stack ?? ""}/${f.phase}`))];
  assert.equal(sites.length, 1, `exactly one site found something: ${sites.join(", ")}\n${sweepText(r)}`);
  assert.match(sites[0] as string, /^sys\.daemon\.rename@[0-9a-f]{8}(:[24])?\/dot$/, "the queue file's rename, while the message is being committed");
  for (const f of found) {
    assert.ok(f.findings.some((x) => /^ledger: (lost|missing)/.test(x)), `the acknowledged message was never delivered: ${f.findings.join("; ")}`);
    assert.equal(f.confirmed, true, "found again on a fresh instance");
    assert.match(f.replay, /--fault 'sys\.daemon\.rename:once=true,stack=[0-9a-f]{8}(:[24])?,action=error,errno=E[A-Z]+'/);
  }
  // the other renames (the delivery's, which retries) and every other call were handled gracefully
  assert.ok(r.failureIds.some((f) => f.point === "sys.daemon.fsync" && f.phase === "dot" && f.outcome === "graceful" && f.session === "tempfail"), "a failed fsync of the queue file is a 451");
  assert.ok(r.failureIds.filter((f) => f.outcome === "graceful").length >= 10, sweepText(r));
  t.diagnostic(`sweep: ${r.failureIds.length} failure IDs, ${found.length} found the bug, in ${Math.round(r.durationMs / 1000)} s`);

  // Random monkey runs as long as the sweep took: every sys.daemon.* call fails with p = 0.02, with an errno it can return.
  const errno = (c: string): string => (c === "connect" ? "ECONNREFUSED" : c === "accept" ? "ECONNABORTED" : "EIO");
  const plan = validatePlan({ points: Object.fromEntries(SHIM_CALLS.map((c) => [`sys.daemon.${c}`, { probability: 0.02, action: "error", errno: errno(c) }])) });
  const seconds = Math.max(10, Math.round(r.durationMs / 1000));
  const seeds = [1, 2, 3, 4, 5];
  // as long as the sweep (by time: a random run sends far more transactions), and as many transactions as the sweep sent
  for (const [what, limit] of [[`${seconds} s`, {}], [`${r.transactions} transactions`, { maxSessions: r.transactions }]] as const) {
    let hits = 0;
    for (const seed of what.endsWith(" s") ? seeds.slice(0, 2) : seeds) {
      const m = await runMonkey({ createTarget: (x) => monkeyTarget(file, x), plan, seed, concurrency: 1, durationMs: seconds * 1000, timeoutMs: 5000, drainTimeoutMs: 10_000, ...limit });
      assert.ok(m.sessions > 0);
      const ledger = m.ledgerAfterRestart ?? m.ledger;
      const lost = (ledger?.lost ?? 0) + (ledger?.missing ?? 0);
      if (lost > 0) hits++;
      t.diagnostic(`random monkey run, seed ${seed}, ${what}: ${m.sessions} sessions, ${m.ledger?.accepted ?? 0} accepted, lost ${lost}`);
    }
    t.diagnostic(`random monkey runs of ${what} found the bug in ${hits} of ${what.endsWith(" s") ? 2 : seeds.length} seeds`);
  }
});
