// monkey sweep against a real OpenSMTPD: the same seed gives the same failure IDs in the same
// order and, wherever both runs reached a failure, the same verdict (its queue process's calls at
// the dot and after the 250: renames, unlinks, opens, mkdirs and its imsg reads and writes). Needs root and `npm run setup:mtas` (a missing MTA
// fails in CI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { OPENSMTPD_PREFIX } from "../../targets/opensmtpd/target.js";
import { mtaAvailability, requireMta } from "../targets/helpers.js";
import { runSweep, type SweepReport } from "../../monkey/sweep/sweep.js";
import { sweepText } from "../../monkey/sweep/outputs/text.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { seccompInstalled, SECCOMP_BIN } from "../../targets/process/syscall-shim.js";

const { why, skip } = mtaAvailability("opensmtpd", join(OPENSMTPD_PREFIX, "usr/sbin/smtpd"));

const sweep = (): Promise<SweepReport> =>
  runSweep({ createTarget: (x) => monkeyTarget("opensmtpd", x), targetRef: "opensmtpd", seed: 3, points: ["sys.queue.*"], phases: ["dot", "after-250"], choice: {}, budgetMs: 600_000, timeoutMs: 10_000, confirm: false });

test("monkey sweep of OpenSMTPD: the same seed gives the same failure IDs, in the same order, with the same verdicts", { skip, timeout: 1_500_000 }, async (t) => {
  requireMta("opensmtpd", why);
  if (!seccompInstalled()) throw new Error(`the seccomp supervisor is required: ${SECCOMP_BIN} missing (npm run setup:mtas)`);
  const a = await sweep();
  assert.ok(a.failureIds.length >= 5, sweepText(a));
  assert.ok(a.failureIds.every((f) => f.point.startsWith("sys.queue.") && (f.phase === "dot" || f.phase === "after-250")), "only what --points and --phases asked for");
  assert.ok(a.failureIds.some((f) => f.point === "sys.queue.rename" && f.outcome === "graceful"), `a failed rename in the queue is handled gracefully\n${sweepText(a)}`);
  const b = await sweep();
  assert.deepEqual(b.failureIds.map((f) => f.id), a.failureIds.map((f) => f.id), "the same IDs in the same order");
  // Where both runs reached a failure, the verdict is the same. A site whose call races a phase
  // boundary (OpenSMTPD's opens after the 250 follow its delivery's timing, not the client's) may
  // be reached in one run and not in the other: the MTA's own concurrency, said, bounded, not hidden.
  const other = new Map(b.failureIds.map((f) => [f.id, f.outcome]));
  const both = a.failureIds.filter((f) => f.outcome !== "not-reached" && other.get(f.id) !== "not-reached");
  assert.deepEqual(both.map((f) => [f.id, other.get(f.id)]), both.map((f) => [f.id, f.outcome]), `the same verdicts\n${sweepText(a)}\n${sweepText(b)}`);
  const racy = a.failureIds.filter((f) => !both.includes(f));
  t.diagnostic(`${a.failureIds.length} failure IDs, the same in both runs; ${both.length} reached in both with the same verdicts; reached in one run only: ${racy.map((f) => f.id).join(", ") || "none"}`);
  assert.ok(racy.length <= Math.ceil(a.failureIds.length / 10), `at most a tenth reached in one run only: ${racy.map((f) => f.id).join(", ")}`);
});
