// `--find-limit`: raise the load in steps until the target degrades (too many failed sessions,
// or the session p99 over a limit), then say where it broke, how it shed the excess (clean
// 421/451 replies, or resets and timeouts), and how long it took to serve a normal session
// again once the load stopped. Bounded: at most `maxLevel`, one step duration per step, and a
// recovery timeout.
import { Metrics } from "./metrics.js";
import type { Outcome } from "./metrics.js";
import type { Mix, SessionPlan } from "./plan.js";
import { runStorm } from "./scheduler.js";
import type { LoadModel } from "./scheduler.js";
import { runSession } from "./session.js";
import type { SessionTarget } from "./session.js";
import { wheel } from "./wheel.js";

export interface FindLimitOptions {
  target: SessionTarget;
  mix: Mix;
  seed: number;
  /** closed: levels are concurrent sessions; open: arrivals per second */
  model: LoadModel;
  start: number;
  /** each step multiplies the level by this (>1) */
  factor: number;
  maxLevel: number;
  stepMs: number;
  /** degraded when failed sessions / sessions exceeds this (0..1) */
  maxErrorRate: number;
  /** degraded when the p99 of whole sessions exceeds this, ms */
  maxP99Ms: number;
  recoveryTimeoutMs: number;
  /** open loop in-flight cap */
  maxInFlight?: number;
  /** worker threads each step runs on (default 1) */
  workers?: number;
  signal?: AbortSignal;
  /** a second interrupt: cut the step's in-flight sessions */
  cutSignal?: AbortSignal;
  onStep?: (s: LimitStep) => void;
}

export interface LimitStep {
  level: number;
  sessions: number;
  accepted: number;
  /** sessions that did not end ok or aborted on purpose */
  failed: number;
  errorRate: number;
  p99Ms: number;
  /** graceful refusals (4xx) and how many of them were 421 / 451 replies */
  tempfail: number;
  replies421: number;
  replies451: number;
  /** ungraceful ends: refused, reset, closed, timeout, tls, protocol */
  ungraceful: number;
  outcomes: Partial<Record<Outcome, number>>;
  dropped: number;
  degraded: boolean;
  /** why the step counts as degraded */
  reason: string | null;
}

export interface FindLimitResult {
  model: LoadModel;
  steps: LimitStep[];
  /** the first degraded level, null when even maxLevel held */
  breakingPoint: number | null;
  /** the highest level that held */
  lastGood: number | null;
  /** how the target failed at the breaking point */
  shedding: "graceful" | "ungraceful" | "mixed" | "latency" | null;
  /** what a normal session took at the first step (p99, ms): the recovery yardstick */
  baselineMs: number;
  /** time from the end of the ramp until a probe session succeeded within the yardstick, ms */
  recoveryMs: number | null;
  interrupted: boolean;
}

const PROBE: SessionPlan = { kind: "basic", rcpts: 1, size: 200, transactions: 1, tls: "none", family: 4, holdMs: 0, pauseMs: 0, chunk: 0 };

export async function findLimit(o: FindLimitOptions): Promise<FindLimitResult> {
  if (!(o.factor > 1)) throw new RangeError("find-limit: the step factor must be above 1");
  const steps: LimitStep[] = [];
  let baselineMs = 0;
  let level = o.start;
  let recoveryMs: number | null = null;
  for (let i = 0; level <= o.maxLevel && o.signal?.aborted !== true; i++) {
    // Probing starts the moment the step stops starting sessions, while its in-flight ones
    // still drain: recovery counts from the end of the load, not from the end of the drain.
    let probe: Promise<number | null> = Promise.resolve(null);
    const r = await runStorm({
      onStopped: () => {
        probe = recovery(o, () => baselineMs, performance.now());
      },
      target: o.target,
      model: o.model,
      ...(o.model === "open" ? { rate: level } : { concurrency: level }),
      durationMs: o.stepMs,
      maxInFlight: o.maxInFlight,
      mix: o.mix,
      seed: (o.seed + i * 1000) >>> 0,
      signal: o.signal,
      ...(o.cutSignal !== undefined ? { cutSignal: o.cutSignal } : {}),
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
    });
    const step = judgeStep(level, r.metrics, o);
    steps.push(step);
    o.onStep?.(step);
    if (i === 0) baselineMs = step.p99Ms;
    const recovered = await probe;
    if (step.degraded) {
      recoveryMs = recovered;
      break;
    }
    const next = Math.ceil(level * o.factor);
    if (level < o.maxLevel && next > o.maxLevel) level = o.maxLevel;
    else level = next;
  }
  const broken = steps.find((s) => s.degraded) ?? null;
  const good = steps.filter((s) => !s.degraded);
  return {
    model: o.model,
    steps,
    breakingPoint: broken?.level ?? null,
    lastGood: good.at(-1)?.level ?? null,
    shedding: broken === null ? null : broken.ungraceful === 0 && broken.tempfail === 0 ? "latency" : broken.ungraceful === 0 ? "graceful" : broken.tempfail === 0 ? "ungraceful" : "mixed",
    baselineMs,
    recoveryMs,
    interrupted: o.signal?.aborted === true,
  };
}

function judgeStep(level: number, m: Metrics, o: FindLimitOptions): LimitStep {
  const failed = m.sessions - m.count("ok") - m.count("aborted");
  const errorRate = m.sessions === 0 ? 0 : failed / m.sessions;
  const p99Ms = (m.phases.get("session")?.quantile(0.99) ?? 0) / 1000;
  const codes = (code: number): number => [...m.codes].filter(([k]) => k.endsWith(` ${code}`)).reduce((a, [, n]) => a + n, 0);
  const reasons: string[] = [];
  if (errorRate > o.maxErrorRate) reasons.push(`${(errorRate * 100).toFixed(1)}% of sessions failed (limit ${(o.maxErrorRate * 100).toFixed(1)}%)`);
  if (p99Ms > o.maxP99Ms) reasons.push(`session p99 ${p99Ms.toFixed(0)} ms (limit ${o.maxP99Ms} ms)`);
  if (m.dropped > 0) reasons.push(`${m.dropped} arrivals dropped at the in-flight cap`);
  return {
    level,
    sessions: m.sessions,
    accepted: m.accepted,
    failed,
    errorRate,
    p99Ms,
    tempfail: m.count("tempfail"),
    replies421: codes(421),
    replies451: codes(451),
    ungraceful: m.ungraceful(),
    outcomes: Object.fromEntries([...m.outcomes].filter(([, n]) => n > 0)),
    dropped: m.dropped,
    degraded: reasons.length > 0,
    reason: reasons.length > 0 ? reasons.join("; ") : null,
  };
}

/**
 * Probes with one plain session every 100 ms until one is ok within the yardstick (twice the
 * first step's p99, at least 50 ms); returns the time from t0 to that success.
 */
async function recovery(o: FindLimitOptions, baseline: () => number, t0: number): Promise<number | null> {
  while (performance.now() - t0 < o.recoveryTimeoutMs && o.signal?.aborted !== true) {
    // The first step's own probe runs before its baseline exists: then any success counts.
    const yardstick = baseline() > 0 ? Math.max(2 * baseline(), 50) : Infinity;
    const m = new Metrics();
    const t = performance.now();
    const timeoutMs = Math.max(100, Math.min(o.target.timeoutMs, o.recoveryTimeoutMs - (t - t0)));
    const outcome = await runSession(PROBE, { ...o.target, timeoutMs }, m);
    if (outcome === "ok" && performance.now() - t <= yardstick) return performance.now() - t0;
    await wheel.sleep(100);
  }
  return null;
}
