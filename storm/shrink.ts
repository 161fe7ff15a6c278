// Shrinking a failed storm session: fast-check replays the failing plan from its (seed, path)
// against the live target and shrinks it (fewer recipients, smaller message, plainer kind and
// transport...) while it still fails, then the smallest failing plan is written out as an
// smtpscript test-case that anyone can rerun.
import fc from "fast-check";
import { Metrics } from "./metrics.js";
import type { Outcome } from "./metrics.js";
import { planArbitrary } from "./plan.js";
import type { Mix, SessionPlan } from "./plan.js";
import { runSession } from "./session.js";
import type { SessionTarget } from "./session.js";
import type { SessionFailure } from "./scheduler.js";
import { planToScript } from "./plan-script.js";

export interface ShrinkOptions {
  failure: SessionFailure;
  mix: Mix;
  target: SessionTarget;
  isFailure: (outcome: Outcome, elapsedMs: number) => boolean;
  /** stop shrinking after this long and keep the smallest failure found so far */
  timeLimitMs: number;
}

export interface ShrinkResult {
  /** false when replaying the failing plan alone did not fail again (load-dependent failure) */
  reproduced: boolean;
  plan: SessionPlan;
  outcome: Outcome | null;
  /** successful shrink steps */
  shrinks: number;
  /** sessions run while shrinking */
  runs: number;
}

export async function shrinkFailure(o: ShrinkOptions): Promise<ShrinkResult> {
  let runs = 0;
  const outcomes = new Map<SessionPlan, Outcome>();
  const property = fc.asyncProperty(planArbitrary(o.mix), async (plan) => {
    runs++;
    const t = performance.now();
    const outcome = await runSession(plan, o.target, new Metrics());
    outcomes.set(plan, outcome);
    return !o.isFailure(outcome, performance.now() - t);
  });
  const r = await fc.check(property, { seed: o.failure.origin.seed, path: o.failure.origin.path, interruptAfterTimeLimit: o.timeLimitMs });
  if (!r.failed || r.counterexample === null) return { reproduced: false, plan: o.failure.plan, outcome: null, shrinks: 0, runs };
  const plan = r.counterexample[0];
  return { reproduced: true, plan, outcome: outcomes.get(plan) ?? null, shrinks: r.numShrinks, runs };
}

/** The shrunk plan as a runnable smtpscript file, with how it was found on top. */
export function shrunkScript(result: ShrinkResult, failure: SessionFailure, rcpt: string, stormSeed: number): string {
  const p = result.plan;
  return planToScript(p, {
    rcpt,
    name: `storm.shrunk.${p.kind}`,
    comments: [
      `Shrunk by smtpchaos storm (seed ${stormSeed}) from a "${failure.plan.kind}" session that ended "${failure.outcome}"`,
      `(plan origin seed ${failure.origin.seed} path ${failure.origin.path}; ${result.shrinks} shrink steps, ${result.runs} sessions replayed).`,
      `Smallest failing plan: ${JSON.stringify(p)}${result.outcome !== null ? ` -> ${result.outcome}` : ""}`,
      `Every reply is expected to be the graceful one: the script fails where the server did.`,
    ],
  });
}
