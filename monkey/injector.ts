// Turns a validated plan into decisions. Each fault point has its own counter-based stream: the
// k-th eligible call of a point gets the same answer in every run with the same seed, whatever the
// other points did in between. Layers ask `decide(point, ctx)`; the injector keeps counts and a
// bounded log of fired faults (for attributing session outcomes to faults by time).
import { type FaultAction, type FaultPlan, type FaultSpec, type Latency, SMTP_PHASES, type SmtpPhase } from "./plan.js";
import { Stream, type Seed } from "../common/rng.js";

export type RunWindow = "clean" | "faults" | "heal" | "done";

export interface Decision {
  point: string;
  /** 1-based index among the point's eligible calls */
  call: number;
  action: FaultAction;
  errno: number | null;
  /** wait this long before acting (0 = none) */
  delayMs: number;
  /** pause.* / net.stall: how long */
  durationMs: number | null;
  bytesPerSec: number | null;
}

export interface DecideContext {
  phase?: SmtpPhase;
  /** ms since epoch; defaults to the injector's clock */
  now?: number;
  /** the client connection (its source port) the call serves, when the layer knows it; 0 = none (background work) */
  conn?: number;
}

export interface PointStats {
  point: string;
  calls: number;
  eligible: number;
  fired: number;
  byAction: Record<string, number>;
}

export interface FiredFault {
  at: number;
  point: string;
  call: number;
  action: FaultAction;
  /** the client connection it hit, when known (exact attribution) */
  conn?: number;
  /** its effect lasts until then (a pause, a killed role respawning, a delay), ms since epoch */
  until?: number;
  /** the clients (target-side ports) whose serving process it paused or killed: self-inflicted for them */
  served?: readonly number[];
}

/** how late a firing decided inside the target may be recorded (recordInside) */
const LATE_MS = 10_000;
/** the longest effect firedBetween looks back for (a killed role respawning, a long pause) */
const MAX_EFFECT_MS = 120_000;

const LANE_FIRE = 0;
const LANE_ACTION = 1;
const LANE_LATENCY = 2;
const LANE_DURATION = 3;

export function sampleLatency(l: Latency, stream: Stream, index: number, lane: number): number {
  const clamp = (v: number, max: number | null): number => Math.max(0, max === null ? v : Math.min(v, max));
  switch (l.dist) {
    case "fixed":
      return l.ms;
    case "uniform":
      return l.min + stream.uniform(index, lane) * (l.max - l.min);
    case "exponential":
      return clamp(-l.mean * Math.log(1 - stream.uniform(index, lane)), l.max);
    case "lognormal":
      return clamp(Math.exp(l.mu + l.sigma * stream.normal(index, lane)), l.max);
  }
}

function phaseMatches(cond: FaultSpec["phase"], phase: SmtpPhase | undefined): boolean {
  if (cond === null || phase === undefined) return true;
  const have = SMTP_PHASES.indexOf(phase);
  const want = SMTP_PHASES.indexOf(cond.phase);
  return cond.op === "at" ? have === want : have >= want;
}

/** Whether a schedule fires on the given eligible call (1-based) of a point. Pure. */
export function scheduleFires(spec: FaultSpec, stream: Stream, call: number): boolean {
  const s = spec.schedule;
  switch (s.kind) {
    case "always":
      return true;
    case "once":
      return call === s.at;
    case "every":
      return call >= s.offset && (call - s.offset) % s.n === 0;
    case "probability":
      return stream.uniform(call, LANE_FIRE) < s.p;
  }
}

class PointState {
  calls = 0;
  eligible = 0;
  fired = 0;
  readonly byAction: Record<string, number> = {};
  readonly stream: Stream;
  private readonly totalWeight: number;
  constructor(
    readonly spec: FaultSpec,
    seed: Seed,
  ) {
    this.stream = new Stream(seed, spec.name);
    this.totalWeight = spec.actions.reduce((s, a) => s + a.weight, 0);
  }

  /** The decision for eligible call `call`, a pure function of (seed, point, call). */
  decisionFor(call: number): Decision | null {
    const spec = this.spec;
    if (!scheduleFires(spec, this.stream, call)) return null;
    let r = this.stream.uniform(call, LANE_ACTION) * this.totalWeight;
    let action = spec.actions[spec.actions.length - 1]?.action ?? "error";
    for (const a of spec.actions) {
      if (r < a.weight) {
        action = a.action;
        break;
      }
      r -= a.weight;
    }
    return {
      point: spec.name,
      call,
      action,
      errno: spec.errno,
      delayMs: spec.latency === null ? 0 : Math.round(sampleLatency(spec.latency, this.stream, call, LANE_LATENCY)),
      durationMs: spec.duration === null ? null : Math.round(sampleLatency(spec.duration, this.stream, call, LANE_DURATION)),
      bytesPerSec: spec.bytesPerSec,
    };
  }
}

export interface InjectorOptions {
  plan: FaultPlan;
  seed: Seed;
  /** defaults to Date.now */
  clock?: () => number;
  /** when the run starts (windows are measured from here); defaults to construction time */
  startedAt?: number;
  /** how many fired faults to remember for attribution */
  logSize?: number;
}

export class Injector {
  readonly seed: Seed;
  private plan: FaultPlan;
  private points = new Map<string, PointState>();
  private readonly clock: () => number;
  private startedAt: number;
  private readonly log: FiredFault[] = [];
  private logStart = 0;
  private readonly logSize: number;
  private readonly listeners = new Set<(f: FiredFault) => void>();
  private readonly probes = new Set<(point: string, ctx: DecideContext, now: number) => void>();
  private enabled = true;

  constructor(opts: InjectorOptions) {
    this.seed = opts.seed;
    this.plan = opts.plan;
    this.clock = opts.clock ?? Date.now;
    this.startedAt = opts.startedAt ?? this.clock();
    this.logSize = opts.logSize ?? 10_000;
    this.load(opts.plan);
  }

  private load(plan: FaultPlan): void {
    this.plan = plan;
    this.points = new Map(plan.points.map((s) => [s.name, new PointState(s, this.seed)]));
  }

  /** Replaces the plan (control API); counters restart so the new plan replays from its own call 1. */
  setPlan(plan: FaultPlan, restartClock = true): void {
    this.load(plan);
    if (restartClock) this.startedAt = this.clock();
  }

  /**
   * Replaces the plan but keeps the counters (and the clock) of the points whose settings did not
   * change: a `monkey` statement changes one point, and `fail X once` must not fire X again
   * because another point was set after it.
   */
  amendPlan(plan: FaultPlan): void {
    const before = this.points;
    this.plan = plan;
    this.points = new Map(
      plan.points.map((s) => {
        const old = before.get(s.name);
        return [s.name, old !== undefined && JSON.stringify(old.spec) === JSON.stringify(s) ? old : new PointState(s, this.seed)];
      }),
    );
  }

  currentPlan(): FaultPlan {
    return this.plan;
  }

  /** Globally stops (or resumes) every fault, e.g. before the final flush and reconcile. */
  setEnabled(on: boolean): void {
    this.enabled = on;
  }

  specs(): FaultSpec[] {
    return this.plan.points;
  }

  elapsed(now = this.clock()): number {
    return now - this.startedAt;
  }

  window(now = this.clock()): RunWindow {
    const t = now - this.startedAt;
    const w = this.plan.windows;
    if (t < w.cleanMs) return "clean";
    if (w.faultsMs === null || t < w.cleanMs + w.faultsMs) return "faults";
    if (t < w.cleanMs + w.faultsMs + w.healMs) return "heal";
    return "done";
  }

  /** Asks whether `point` fails now. Returns null (proceed normally) for points not in the plan. */
  decide(point: string, ctx: DecideContext = {}): Decision | null {
    const st = this.points.get(point);
    if (this.probes.size > 0) for (const p of this.probes) p(point, ctx, ctx.now ?? this.clock());
    if (st === undefined) return null;
    st.calls++;
    const now = ctx.now ?? this.clock();
    if (!this.enabled || this.window(now) !== "faults") return null;
    const spec = st.spec;
    if (spec.window !== null) {
      const t = now - this.startedAt - this.plan.windows.cleanMs;
      if (t < spec.window.fromMs || (spec.window.untilMs !== null && t >= spec.window.untilMs)) return null;
    }
    if (!phaseMatches(spec.phase, ctx.phase)) return null;
    if (spec.limit !== null && st.fired >= spec.limit) return null;
    st.eligible++;
    const d = st.decisionFor(st.eligible);
    if (d === null) return null;
    st.fired++;
    st.byAction[d.action] = (st.byAction[d.action] ?? 0) + 1;
    this.remember({ at: now, point, call: d.call, action: d.action, ...(ctx.conn !== undefined ? { conn: ctx.conn } : {}) });
    return d;
  }

  /**
   * A firing decided inside the target with this injector's streams (the syscall shim): counted
   * and logged like the injector's own, at the time it happened.
   */
  recordInside(f: FiredFault): void {
    const st = this.points.get(f.point);
    if (st !== undefined) {
      st.fired++;
      st.byAction[f.action] = (st.byAction[f.action] ?? 0) + 1;
    }
    this.remember(f);
  }

  private remember(ev: FiredFault): void {
    this.log.push(ev);
    if (this.log.length > this.logSize * 2) {
      this.logStart += this.log.length - this.logSize;
      this.log.splice(0, this.log.length - this.logSize);
    }
    for (const l of this.listeners) l(ev);
  }

  /** Pure preview of the first `n` decisions of a point (what a replay will do), without counting. */
  preview(point: string, n: number): Array<Decision | null> {
    const st = this.points.get(point);
    if (st === undefined) return [];
    const out: Array<Decision | null> = [];
    for (let i = 1; i <= n; i++) out.push(st.decisionFor(i));
    return out;
  }

  /**
   * Learns of every call a layer asks about, planned or not (a fault sweep's discovery: which
   * points the target reaches, and when). Returns the way to stop listening.
   */
  onDecide(probe: (point: string, ctx: DecideContext, now: number) => void): () => void {
    this.probes.add(probe);
    return () => this.probes.delete(probe);
  }

  onFire(listener: (f: FiredFault) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Faults fired, or still in effect, in [from, to] (ms since epoch), oldest first; bounded by logSize. */
  firedBetween(from: number, to: number): FiredFault[] {
    const out: FiredFault[] = [];
    for (let i = this.log.length - 1; i >= 0; i--) {
      const f = this.log[i] as FiredFault;
      // firings decided inside the target arrive up to a few seconds late; effects last a while
      if (f.at < from - LATE_MS - MAX_EFFECT_MS) break;
      if (f.at <= to && Math.max(f.at, Math.min(f.until ?? f.at, f.at + MAX_EFFECT_MS)) >= from) out.push(f);
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /**
   * Takes back a firing that reached nothing (a kill decided when the role had no process): it
   * is not counted, logged or charged to any session.
   */
  unfire(f: FiredFault): void {
    const i = this.log.lastIndexOf(f);
    if (i < 0) return;
    this.log.splice(i, 1);
    const st = this.points.get(f.point);
    if (st === undefined) return;
    st.fired = Math.max(0, st.fired - 1);
    const n = st.byAction[f.action] ?? 0;
    if (n > 1) st.byAction[f.action] = n - 1;
    else delete st.byAction[f.action];
  }

  /** The newest firing of `point` (its layer adds how long it lasts and whom it hit). */
  lastFired(point: string): FiredFault | null {
    for (let i = this.log.length - 1; i >= 0; i--) if ((this.log[i] as FiredFault).point === point) return this.log[i] as FiredFault;
    return null;
  }

  stats(): PointStats[] {
    return [...this.points.values()].map((s) => ({
      point: s.spec.name,
      calls: s.calls,
      eligible: s.eligible,
      fired: s.fired,
      byAction: { ...s.byAction },
    }));
  }
}
