// One storm session: its kind (storm/kinds/) runs it over the transaction engine, and the
// engine's steps become the storm's metrics. Replies are judged by class only; all parsing is
// the wire layer's.
import type { Outcome } from "../smtp/index.js";
import { memoized } from "../common/memo.js";
import type { Metrics } from "./metrics.js";
import type { SessionPlan } from "./kinds/kind.js";
import { kindUnit } from "./kinds/index.js";
import { clientOptions, metricsObserver, stormMail } from "./endpoint.js";
import type { SessionTarget } from "./endpoint.js";

export { classify } from "../smtp/index.js";
export { CLIENT_NAME, SENDER, endpointFor } from "./endpoint.js";
export type { SessionTarget } from "./endpoint.js";

export interface SessionOptions {
  /** performance.now() when the session was due (open loop); latency counts from here */
  scheduledAt?: number;
}

/** One hold counter per storm, not a closure per session. */
const holdingOf = memoized((m: Metrics) => (on: boolean): void => (on ? m.holdStarted() : m.holdEnded()));

export async function runSession(plan: SessionPlan, target: SessionTarget, m: Metrics, opts: SessionOptions = {}): Promise<Outcome> {
  const t0 = opts.scheduledAt ?? performance.now();
  m.sessionStarted();
  m.kind(plan.kind);
  const { outcome, accepted } = await kindUnit(plan.kind).run({
    plan,
    target,
    client: clientOptions(plan, target, metricsObserver(m), t0),
    mail: stormMail(target),
    holding: holdingOf(m),
  });
  m.phase("session", performance.now() - t0);
  m.sessionEnded(outcome, accepted);
  return outcome;
}
