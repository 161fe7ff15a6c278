// One storm session: its kind (storm/kinds/) runs it over the transaction engine, and the
// engine's steps become the storm's metrics. Replies are judged by class only; all parsing is
// the wire layer's.
import type { SessionResult } from "../smtp/index.js";
import type { Outcome } from "./metrics.js";
import { memoized } from "../common/memo.js";
import type { Metrics } from "./metrics.js";
import type { KindContext, SessionPlan } from "./kinds/kind.js";
import { kindUnit } from "./kinds/index.js";
import { awaitCut, stopCut } from "./cut.js";
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

export function runSession(plan: SessionPlan, target: SessionTarget, m: Metrics, opts: SessionOptions = {}): Promise<Outcome> {
  const t0 = opts.scheduledAt ?? performance.now();
  m.sessionStarted();
  m.kind(plan.kind);
  const signal = opts.signal;
  const ctx: KindContext = { plan, target, client: clientOptions(plan, target, metricsObserver(m), t0), mail: stormMail(target), holding: holdingOf(m) };
  if (signal !== undefined) ctx.signal = signal;
  const run = kindUnit(plan.kind).run(ctx);
  // Promises, not an async function: thousands of sessions wait here at once, and a suspended
  // async frame costs more than these two closures.
  if (signal === undefined) return run.then((r) => ended(m, t0, r));
  // The session's result, or "overdue" as soon as the cut comes (the session itself is left to
  // its client to close). The race's own resolve waits for the cut.
  let cutWaiter: () => void = noop;
  const race = new Promise<SessionResult | undefined>((resolve, reject) => {
    cutWaiter = resolve as () => void;
    run.then(resolve, reject);
  });
  awaitCut(signal, cutWaiter);
  return race.then(
    (r) => {
      stopCut(signal, cutWaiter);
      return ended(m, t0, r);
    },
    (err: unknown) => {
      stopCut(signal, cutWaiter);
      throw err;
    },
  );
}

function ended(m: Metrics, t0: number, r: SessionResult | undefined): Outcome {
  const { outcome, accepted } = r ?? OVERDUE;
  m.phase("session", performance.now() - t0);
  m.sessionEnded(outcome, accepted);
  return outcome;
}

const OVERDUE = { outcome: "overdue", accepted: 0 } as const;
const noop = (): void => {};
