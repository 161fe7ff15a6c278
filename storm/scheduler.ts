// Starting sessions over time, always bounded by a duration (and optionally by session and
// message counts) or an abort (Ctrl-C); in-flight sessions then finish.
//
// Closed loop: keep `concurrency` sessions in flight (or the level of the stages), starting one
// as another ends. Open loop: start sessions at an arrival rate whatever the server does; each
// session's latency counts from when it was *due*, so a slow server or a busy generator shows as
// latency instead of silently lowering the load (coordinated omission), and arrivals that would
// exceed the in-flight cap are dropped and counted rather than delayed.
//
// Hot path: no timer per session; one control timer and one once-a-second sampler per storm.
import { UsageError } from "../common/errors.js";
import { Metrics, UNGRACEFUL } from "./metrics.js";
import type { Outcome } from "./metrics.js";
import { PlanStream } from "./plan.js";
import type { Mix, PlanOrigin, SessionPlan } from "./plan.js";
import { runSession } from "./session.js";
import type { SessionTarget } from "./session.js";
import { Profile } from "./profile.js";
import { runParallel } from "./parallel.js";
import type { Stage } from "./profile.js";

export type LoadModel = "closed" | "open";

export interface StormOptions {
  target: SessionTarget;
  /** closed loop: sessions in flight at all times (without stages) */
  concurrency?: number;
  /** open loop: session arrivals per second (without stages) */
  rate?: number;
  /** default: "open" when rate is given, else "closed" */
  model?: LoadModel;
  /** ramps: levels are sessions (closed) or arrivals/s (open) */
  stages?: readonly Stage[];
  /** how long to start sessions; defaults to the stages' total */
  durationMs?: number;
  /** stop starting sessions after this many */
  maxSessions?: number;
  /** stop starting sessions once this many messages were accepted */
  maxMessages?: number;
  /** open loop: arrivals while this many sessions are in flight are dropped (default 10,000) */
  maxInFlight?: number;
  mix: Mix;
  seed: number;
  signal?: AbortSignal;
  /** called once a second with the metrics so far (live progress) */
  onTick?: (m: Metrics, elapsedMs: number) => void;
  /** called once, when the storm stops starting sessions (in-flight ones then drain) */
  onStopped?: () => void;
  /** which sessions count as failed, to keep the first for shrinking (default: ungraceful outcomes) */
  isFailure?: (outcome: Outcome, elapsedMs: number) => boolean;
  /** worker threads sharing the load (default 1: this thread); with more, failures are ungraceful or slower than slowSessionMs */
  workers?: number;
  slowSessionMs?: number;
  /** ends every session still in flight at once, as "overdue" (a second Ctrl-C); stops the storm too */
  cutSignal?: AbortSignal;
  /** stop once this many sessions ended and every one was refused (nothing listens; default 10) */
  unreachableAfter?: number;
}

export interface SessionFailure {
  plan: SessionPlan;
  origin: PlanOrigin;
  outcome: Outcome;
  elapsedMs: number;
}

export interface StormResult {
  metrics: Metrics;
  /** wall clock (ms) of the first second of the timeline: where merged parts line up */
  startedAt: number;
  /** a shard of a bigger run (--shard I/N): index is 0-based; runSeed is the whole run's */
  shard?: { index: number; count: number; runSeed: number };
  seed: number;
  durationMs: number;
  interrupted: boolean;
  model: LoadModel;
  /** the first session that failed the isFailure check, replayable by its origin */
  failure: SessionFailure | null;
  /** set when the storm stopped early because its first sessions were all refused */
  unreachable?: string;
}

export const isUngraceful = (o: Outcome): boolean => UNGRACEFUL.includes(o);

/** Which sessions count as failed: ungraceful ones, and with a limit those slower than it. */
export function isFailureRule(slowSessionMs: number | undefined): (o: Outcome, ms: number) => boolean {
  return (o, ms) => isUngraceful(o) || (slowSessionMs !== undefined && ms > slowSessionMs);
}

export async function runStorm(o: StormOptions): Promise<StormResult> {
  if ((o.workers ?? 1) > 1) return runParallel({ ...o, workers: o.workers as number });
  const model: LoadModel = o.model ?? (o.rate !== undefined ? "open" : "closed");
  const constant = model === "open" ? o.rate : o.concurrency;
  if (o.stages === undefined && !(constant !== undefined && constant > 0)) throw new UsageError(`a ${model}-loop storm needs ${model === "open" ? "a rate" : "a concurrency"} or stages`);
  const profile = new Profile(o.stages ?? null, constant ?? 0);
  const durationMs = Math.min(o.durationMs ?? Infinity, profile.totalMs);
  if (!(durationMs > 0 && Number.isFinite(durationMs))) throw new UsageError("a storm needs a positive, finite duration (or stages)");
  const maxInFlight = o.maxInFlight ?? 10_000;
  const isFailure = o.isFailure ?? isFailureRule(o.slowSessionMs);
  const metrics = new Metrics();
  const unreachableAfter = o.unreachableAfter ?? 10;
  // A session's hard deadline: the storm stops starting sessions, then each may take its
  // timeout (and a hold its hold time) to end; what is left is cut and counted "overdue".
  const graceMs = o.target.timeoutMs + ((o.mix.weights.hold ?? 0) > 0 ? o.mix.hold.max : 0);
  // one cut for every session in flight (storm/cut.ts): none left is cut twice, a later one never
  const cut = new AbortController();
  let cutTimer: NodeJS.Timeout | undefined;
  let unreachable: string | undefined;
  const cutAll = (): void => cut.abort();
  const plans = new PlanStream(o.mix, o.seed);
  const t0 = performance.now();
  const startedAt = Date.now();
  const deadline = t0 + durationMs;
  let started = 0;
  let issued = 0;
  let inFlight = 0;
  let stopped = false;
  let failure: SessionFailure | null = null;
  let fatal: unknown = null;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));

  const bounded = (): boolean =>
    !stopped &&
    fatal === null &&
    o.signal?.aborted !== true &&
    (o.maxSessions === undefined || started < o.maxSessions) &&
    (o.maxMessages === undefined || metrics.accepted < o.maxMessages) &&
    unreachable === undefined;
  const more = (now: number): boolean => now < deadline && bounded();
  /** open loop: set once no arrival is left before the deadline (or a bound was hit) */
  let arrivalsDone = false;

  // One closure per session in flight (what it must remember to report a failure), the rest shared.
  const ended = (outcome: Outcome, plan: SessionPlan, at: number, scheduledAt: number | undefined): void => {
    inFlight--;
    // Nothing listens: the first sessions all refused and none got further. Stop now rather
    // than flood the port with connects (a closed loop restarts each at once).
    if (unreachable === undefined && metrics.sessions >= unreachableAfter && metrics.count("refused") === metrics.sessions) {
      unreachable = `connection refused: the first ${metrics.sessions} sessions were all refused, so the storm stopped`;
    }
    if (failure === null && isFailure(outcome, performance.now() - (scheduledAt ?? t0))) {
      failure = { plan, origin: plans.originOf(at), outcome, elapsedMs: performance.now() - (scheduledAt ?? t0) };
    }
    if (model === "closed") refill();
    if (stopped && inFlight === 0) finish();
  };
  // A closed loop refills from a macrotask, once per turn of the event loop: sessions that fail
  // without I/O (no local port left, no descriptor) would otherwise chain ends and starts in
  // microtasks forever, and the timers (progress, deadline, cut) would never run.
  let refillDue = false;
  const refill = (): void => {
    if (refillDue) return;
    refillDue = true;
    setImmediate(() => {
      refillDue = false;
      pump();
    });
  };
  const crashed = (err: unknown): void => {
    inFlight--;
    fatal ??= err;
    if (stopped && inFlight === 0) finish();
  };
  const launch = (scheduledAt: number | undefined): void => {
    started++;
    inFlight++;
    const plan = plans.next();
    const at = plans.position();
    runSession(plan, o.target, metrics, scheduledAt === undefined ? { signal: cut.signal } : { scheduledAt, signal: cut.signal }).then((outcome) => ended(outcome, plan, at, scheduledAt), crashed);
  };

  // Closed loop: fill up to the current level.
  const pump = (): void => {
    if (stopped) return;
    const now = performance.now();
    const level = Math.floor(profile.level(now - t0));
    while (inFlight < level && more(now)) launch(undefined);
  };

  // Open loop: start every arrival that is due, stamped with when it was due. An arrival due
  // before the deadline is started even if this tick comes late (its lateness is latency).
  const arrive = (): void => {
    const now = performance.now();
    for (;;) {
      const due = t0 + profile.arrivalTime(issued);
      if (due >= deadline || !bounded()) {
        arrivalsDone = true;
        break;
      }
      if (due > now) break;
      issued++;
      if (inFlight >= maxInFlight) metrics.drop();
      else launch(due);
    }
  };

  const control = (): void => {
    if (stopped) return;
    if (model === "open") arrive();
    else pump();
    if (model === "open" ? arrivalsDone : !more(performance.now())) {
      stop();
    }
  };
  const stop = (): void => {
    stopped = true;
    clearInterval(controller);
    o.onStopped?.();
    cutTimer = setTimeout(cutAll, graceMs);
    if (inFlight === 0) finish();
  };
  const onCut = (): void => {
    if (!stopped) stop();
    cutAll();
  };
  const ticker = setInterval(() => {
    metrics.sample(Math.round((performance.now() - t0) / 1000));
    o.onTick?.(metrics, performance.now() - t0);
  }, 1000);
  // Open loop needs a fine tick to start arrivals on time; closed loop only follows ramps and deadlines.
  const controller = setInterval(control, model === "open" ? 2 : 20);
  if (o.cutSignal?.aborted === true) onCut();
  else o.cutSignal?.addEventListener("abort", onCut, { once: true });
  if (!stopped) control();
  try {
    await finished;
  } finally {
    stopped = true;
    clearInterval(controller);
    clearInterval(ticker);
    clearTimeout(cutTimer);
    o.cutSignal?.removeEventListener("abort", onCut);
  }
  if (fatal !== null) throw fatal;
  metrics.sample(Math.round((performance.now() - t0) / 1000));
  return { metrics, startedAt, seed: o.seed, durationMs: performance.now() - t0, interrupted: o.signal?.aborted === true || o.cutSignal?.aborted === true, model, failure, ...(unreachable !== undefined ? { unreachable } : {}) };
}
