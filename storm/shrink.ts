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
import { kindUnit } from "./kinds/index.js";
import { smaller } from "./kinds/wire.js";

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
  const deadline = performance.now() + o.timeLimitMs;
  const r = await fc.check(property, { seed: o.failure.origin.seed, path: o.failure.origin.path, interruptAfterTimeLimit: o.timeLimitMs });
  if (!r.failed || r.counterexample === null) return { reproduced: false, plan: o.failure.plan, outcome: null, shrinks: 0, runs };
  let plan = r.counterexample[0];
  let outcome = outcomes.get(plan) ?? null;
  let shrinks = r.numShrinks;
  // fast-check shrinks each field within the mix's arbitrary, so it stops at a local minimum
  // such as "many-rcpts with 5 recipients" when the mix's plain kinds draw fewer. A plain
  // dialogue needs no arbitrary: keep simplifying the plan itself while it still fails.
  const fails = async (candidate: SessionPlan): Promise<boolean> => {
    runs++;
    const t = performance.now();
    const out = await runSession(candidate, o.target, new Metrics());
    if (!o.isFailure(out, performance.now() - t)) return false;
    outcome = out;
    return true;
  };
  for (let changed = true; changed && performance.now() < deadline; ) {
    changed = false;
    for (const candidate of simpler(plan)) {
      if (performance.now() >= deadline) break;
      if (await fails(candidate)) {
        plan = candidate;
        shrinks++;
        changed = true;
        break;
      }
    }
  }
  return { reproduced: true, plan, outcome, shrinks, runs };
}

/** Plainer variants of a plan, plainest first: kind, transport, transactions, smaller numbers, then the kind's own steps. */
function simpler(p: SessionPlan): SessionPlan[] {
  const out: SessionPlan[] = [];
  const unit = kindUnit(p.kind);
  // Kinds whose dialogue is "basic plus something": try it without the something.
  if (unit.basicPlus === true) out.push({ kind: "basic", rcpts: p.rcpts, size: p.size, transactions: 1, tls: p.tls, family: p.family, holdMs: 0, pauseMs: 0, chunk: 0 });
  if (p.tls !== "none") out.push({ ...p, tls: "none" });
  if (p.family !== 4) out.push({ ...p, family: 4 });
  if (p.transactions > 0) for (const n of smaller(p.transactions, 1)) out.push({ ...p, transactions: n });
  for (const r of smaller(p.rcpts, 1)) out.push({ ...p, rcpts: r });
  for (const n of smaller(p.size, 0)) out.push({ ...p, size: n });
  out.push(...(unit.simpler?.(p) ?? []));
  return out;
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
