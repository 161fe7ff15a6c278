// monkey sweep against a real OpenSMTPD: the same seed gives the same failure IDs in the same
// order and the same verdicts (its queue process's calls at the dot and after the 250: renames,
// unlinks, opens, mkdirs and its imsg writes). Needs root and `npm run setup:mtas` (a missing MTA
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

test("monkey sweep of OpenSMTPD: the same seed gives the same failure IDs, in the same order, with the same verdicts", { skip, timeout: 1_500_000 }, async () => {
  requireMta("opensmtpd", why);
  if (!seccompInstalled()) throw new Error(`the seccomp supervisor is required: ${SECCOMP_BIN} missing (npm run setup:mtas)`);
  const a = await sweep();
  assert.ok(a.failureIds.length >= 5, sweepText(a));
  assert.ok(a.failureIds.every((f) => f.point.startsWith("sys.queue.") && (f.phase === "dot" || f.phase === "after-250")), "only what --points and --phases asked for");
  assert.ok(a.failureIds.some((f) => f.point === "sys.queue.rename" && f.outcome === "graceful"), `a failed rename in the queue is handled gracefully\n${sweepText(a)}`);
  const b = await sweep();
  assert.deepEqual(b.failureIds.map((f) => f.id), a.failureIds.map((f) => f.id), "the same IDs in the same order");
  assert.deepEqual(b.failureIds.map((f) => [f.id, f.outcome]), a.failureIds.map((f) => [f.id, f.outcome]), `the same verdicts\n${sweepText(a)}\n${sweepText(b)}`);
});
