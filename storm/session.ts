// One storm session: its kind (storm/kinds/) runs it over the transaction engine, and the
// engine's steps become the storm's metrics. Replies are judged by class only; all parsing is
// the wire layer's.
import type { SessionResult } from "../smtp/index.js";
import type { Outcome } from "./metrics.js";
import { memoized } from "../common/memo.js";
import type { Metrics } from "./metrics.js";
import type { SessionPlan } from "./kinds/kind.js";
import { kindUnit } from "./kinds/index.js";
import { onCut } from "./cut.js";
import { clientOptions, metricsObserver, stormMail } from "./endpoint.js";
import type { SessionTarget } from "./endpoint.js";

export { classify } from "../smtp/index.js";
export { CLIENT_NAME, SENDER, endpointFor } from "./endpoint.js";
export type { SessionTarget } from "./endpoint.js";

export interface SessionOptions {
  /** performance.now() when the session was due (open loop); latency counts from here */
  scheduledAt?: number;
  /** aborts the session: it ends at once as "overdue", whatever its client is doing (which is told to close) */
  signal?: AbortSignal;
}

/** One hold counter per storm, not a closure per session. */
const holdingOf = memoized((m: Metrics) => (on: boolean): void => (on ? m.holdStarted() : m.holdEnded()));

export async function runSession(plan: SessionPlan, target: SessionTarget, m: Metrics, opts: SessionOptions = {}): Promise<Outcome> {
  const t0 = opts.scheduledAt ?? performance.now();
  m.sessionStarted();
  m.kind(plan.kind);
  const run = kindUnit(plan.kind).run({
    plan,
    target,
    client: clientOptions(plan, target, metricsObserver(m), t0),
    mail: stormMail(target),
    holding: holdingOf(m),
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
  });
  const { outcome, accepted } = opts.signal === undefined ? await run : await untilAborted(run, opts.signal);
  m.phase("session", performance.now() - t0);
  m.sessionEnded(outcome, accepted);
  return outcome;
}

/** The session's result, or "overdue" as soon as `signal` aborts (the session itself is left to its client to close). */
function untilAborted(run: Promise<SessionResult>, signal: AbortSignal): Promise<{ outcome: Outcome; accepted: number }> {
  const overdue = { outcome: "overdue" as const, accepted: 0 };
  if (signal.aborted) {
    run.catch(() => {});
    return Promise.resolve(overdue);
  }
  return new Promise((resolve, reject) => {
    const stopWaiting = onCut(signal, () => resolve(overdue));
    run.then(
      (r) => {
        stopWaiting();
        resolve(r);
      },
      (err: unknown) => {
        stopWaiting();
        reject(err);
      },
    );
  });
}
