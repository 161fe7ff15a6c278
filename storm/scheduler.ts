// Closed-loop storm: `concurrency` sessions at all times until the duration or session budget
// is spent (always bounded) or the run is aborted (Ctrl-C), then in-flight sessions finish.
import { Metrics } from "./metrics.js";
import { PlanStream } from "./plan.js";
import type { Mix } from "./plan.js";
import { runSession } from "./session.js";
import type { SessionTarget } from "./session.js";

export interface StormOptions {
  target: SessionTarget;
  concurrency: number;
  durationMs: number;
  /** stop starting sessions after this many (default: no limit besides the duration) */
  maxSessions?: number;
  mix: Mix;
  seed: number;
  signal?: AbortSignal;
  /** called once a second with the metrics so far (live progress) */
  onTick?: (m: Metrics, elapsedMs: number) => void;
}

export interface StormResult {
  metrics: Metrics;
  seed: number;
  durationMs: number;
  interrupted: boolean;
}

export async function runStorm(o: StormOptions): Promise<StormResult> {
  if (!(o.durationMs > 0)) throw new RangeError("a storm needs a positive duration");
  const metrics = new Metrics();
  const plans = new PlanStream(o.mix, o.seed);
  const t0 = performance.now();
  const deadline = t0 + o.durationMs;
  let started = 0;
  const ticker = setInterval(() => {
    metrics.sample(Math.round((performance.now() - t0) / 1000));
    o.onTick?.(metrics, performance.now() - t0);
  }, 1000);
  const more = (): boolean => performance.now() < deadline && o.signal?.aborted !== true && (o.maxSessions === undefined || started < o.maxSessions);
  const worker = async (): Promise<void> => {
    while (more()) {
      started++;
      await runSession(plans.next(), o.target, metrics);
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, worker));
  } finally {
    clearInterval(ticker);
  }
  metrics.sample(Math.round((performance.now() - t0) / 1000));
  return { metrics, seed: o.seed, durationMs: performance.now() - t0, interrupted: o.signal?.aborted === true };
}
