// One sweep transaction at a time, through the shared transaction engine: the flood runs it like
// any session (the oracle judges it, the ledger tracks its message); this session only arms its
// failure when the client is about to send the command of its phase, and disarms it when the
// next phase opens. After the QUIT the delivery phase lasts until the queue is back to what it
// held before, so the next transaction starts on an idle MTA and every call is charged to the
// right one.
import { runSmtpSession, teeObserver, type Step, type Traffic, type TrafficContext, type TrafficSession, type SessionResult } from "../../smtp/index.js";
import type { Target } from "../../targets/target.js";
import { ControlHangError } from "../../targets/process/daemon-target.js";
import type { PlanController } from "../controller.js";
import type { Injector } from "../injector.js";
import { sleep } from "../layers/layer.js";
import type { FailureId } from "./failures.js";
import { PhaseTimeline, phaseOfStep, preciseNow, type SweepPhase } from "./phases.js";
import type { ProfiledCall } from "./sites.js";

/**
 * How long the client holds the session open after the 250 before its QUIT: the "after-250" phase
 * is what the MTA does right after it acknowledged (the hand-off to its queue manager, the first
 * delivery attempt), a window long enough that this work falls in it run after run, not only when
 * the QUIT happens to come late.
 */
export const AFTER_250_HOLD_MS = 250;

/** Transcript lines kept per transaction (its end: the phase that failed and what followed). */
const TRANSCRIPT_LINES = 16;

/** The message every sweep transaction sends: one recipient, a small body, the same each time so call sites repeat. */
const SIZE = 2048;

/** What the sweep needs of the running target. */
export interface SweepRig {
  controller: PlanController;
  injector: Injector;
  target: Target;
  /** starts recording every injectable call inside the target; the returned function stops and gives them */
  profile: () => () => ProfiledCall[];
  /** longest wait for the queue to empty after a transaction */
  deliveryWaitMs: number;
}

/**
 * profile: record every call; inject: arm `failure` in its phase, and `then` (a pair's second
 * failure) in its own; `watch`: record the calls made from the moment the first one was armed
 * (what the MTA reached while it was in effect: where a pair's second failure may go).
 */
export type SweepTask = { kind: "profile" } | { kind: "inject"; failure: FailureId; then?: FailureId; watch?: boolean };

export interface TaskResult {
  task: SweepTask;
  timeline: PhaseTimeline;
  /** inject: the (first) failure fired while armed; profile: null */
  fired: boolean | null;
  /** a pair: whether its second failure fired */
  firedThen: boolean | null;
  /** profile: the calls seen; watch: those made once the first failure was armed */
  calls: ProfiledCall[];
  /** what went wrong arming it (a refusal of the plan): the failure was not injected */
  armError: string | null;
  /** the MTA stopped answering its control command (queue size) after this transaction: why */
  wedged: string | null;
  /** inject: the last lines of its transcript (kept for every transaction: a ledger finding has no oracle sample) */
  transcript: string[];
}

/** The failures a task arms: its own, and a pair's second. */
function failuresOf(t: SweepTask): FailureId[] {
  return t.kind === "profile" ? [] : t.then === undefined ? [t.failure] : [t.failure, t.then];
}

class SweepSession implements TrafficSession {
  readonly kind = "sweep";
  /** the failures armed now, by point */
  private armed: FailureId[] = [];
  private readonly fired = new Set<FailureId>();
  private armError: string | null = null;
  private armedAt: number | null = null;

  constructor(
    private readonly rig: SweepRig,
    private readonly task: SweepTask,
    private readonly done: (r: TaskResult) => void,
  ) {}

  async run(ctx: TrafficContext): Promise<SessionResult> {
    const timeline = new PhaseTimeline();
    const t = this.task;
    const stopProfile = t.kind === "profile" || (t.kind === "inject" && t.watch === true) ? this.rig.profile() : null;
    let result: SessionResult;
    let wedged: string | null = null;
    // what an earlier failure left queued (a deferral waits for the MTA's own retry): not this transaction's
    const before0 = await this.queued();
    try {
      const before = async (step: Step): Promise<void> => {
        const phase = phaseOfStep(step);
        if (phase === null) return;
        timeline.enter(phase);
        await this.enter(phase);
        if (phase === "after-250") await sleep(AFTER_250_HOLD_MS);
      };
      result = await runSmtpSession({
        ...ctx.client,
        observer: teeObserver(ctx.client.observer ?? {}, { before }),
        transactions: 1,
        transaction: (i) => ctx.mail.transaction(i, 1, SIZE),
      });
      timeline.enter("delivery");
      await this.enter("delivery");
      wedged = await this.drained(typeof before0 === "number" ? before0 : 0);
    } finally {
      await this.disarm();
      timeline.end();
    }
    for (const f of failuresOf(t)) if (this.fired.has(f)) await this.settleAfter(f);
    const calls = stopProfile?.() ?? [];
    const from = this.armedAt;
    this.done({
      task: t,
      timeline,
      fired: t.kind === "inject" ? this.fired.has(t.failure) : null,
      firedThen: t.kind === "inject" && t.then !== undefined ? this.fired.has(t.then) : null,
      calls: t.kind === "profile" ? calls : from === null ? [] : calls.filter((c) => c.at >= from),
      armError: this.armError,
      wedged,
      transcript: t.kind === "inject" && ctx.client.transcript != null ? ctx.client.transcript.format(ctx.client.transcript.tail(TRANSCRIPT_LINES)).split("\n").filter((l) => l !== "") : [],
    });
    return result;
  }

  /** A phase opens: the failures armed for the one before end, this phase's are armed. */
  private async enter(phase: SweepPhase): Promise<void> {
    await this.disarm();
    const t = this.task;
    if (this.armError !== null) return;
    const now = failuresOf(t).filter((f) => f.site.phase === phase);
    if (now.length === 0) return;
    try {
      await this.rig.controller.set({ points: Object.fromEntries(now.map((f) => [f.site.point, f.settings])) });
      this.armed = now;
      this.armedAt ??= preciseNow();
    } catch (err) {
      this.armError = err instanceof Error ? err.message : String(err);
      return;
    }
    // a kill is decided on a timer: let it land before the phase's command goes out
    for (const f of now) if (f.settings.interval !== undefined) await this.firedOrTimeout(f.site.point, 2_000);
  }

  private async firedOrTimeout(point: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && (this.rig.injector.stats().find((s) => s.point === point)?.fired ?? 0) === 0) await sleep(10);
  }

  private async disarm(): Promise<void> {
    const armed = this.armed;
    if (armed.length === 0) return;
    this.armed = [];
    const unreached = await this.rig.controller.clear();
    for (const f of armed) if (!unreached.includes(f.site.point)) this.fired.add(f);
  }

  /**
   * Waits until the queue is back to what it held before the transaction (at least long enough for
   * the MTA's delivery to start; at most deliveryWaitMs: what is still queued then is the final
   * reconcile's to judge). Returns why the MTA is wedged when its queue could not be counted (a
   * control command that hangs), else null.
   */
  private async drained(baseline: number): Promise<string | null> {
    await sleep(100);
    if (this.rig.target.queueObservable === false) {
      await sleep(Math.min(1_000, this.rig.deliveryWaitMs));
      return null;
    }
    const deadline = Date.now() + this.rig.deliveryWaitMs;
    for (;;) {
      const size = await this.queued();
      if (typeof size === "string") return size;
      if (size === null || size <= baseline || Date.now() >= deadline) return null;
      await sleep(50);
    }
  }

  /** The queue's size; null when the target died (its crash is the finding), the error when it does not answer. */
  private async queued(): Promise<number | null | string> {
    const t = this.rig.target;
    if (t.queueObservable === false) return 0;
    try {
      return await t.queueSize();
    } catch (err) {
      // only a command that hangs says the MTA is wedged; one that fails says it is down (its crash report follows)
      if (t.crash() !== null || !(err instanceof ControlHangError)) return null;
      return err.message.split("\n")[0] ?? err.message;
    }
  }

  /** After a kill or a pause, the next transaction waits until the role serves again. */
  private async settleAfter(f: FailureId): Promise<void> {
    const deadline = Date.now() + 35_000;
    for (;;) {
      const last = this.rig.injector.lastFired(f.site.point);
      if (last?.until === undefined || Date.now() >= last.until || Date.now() >= deadline) return;
      await sleep(100);
    }
  }
}

/**
 * The sessions of a sweep, one at a time (concurrency 1): `nextTask` says what the next one does,
 * null when the sweep is over (the flood then ends).
 */
export class SweepTraffic implements Traffic {
  readonly describe = "a fault sweep (one transaction per failure)";
  private rig: SweepRig | null = null;

  constructor(
    private readonly nextTask: () => SweepTask | null,
    private readonly done: (r: TaskResult) => void,
  ) {}

  /** The running target's controls, given once it started (runMonkey's onStarted). */
  attach(rig: SweepRig): void {
    this.rig = rig;
  }

  next(): TrafficSession | null {
    if (this.rig === null) throw new Error("sweep traffic: the target is not attached yet");
    const task = this.nextTask();
    return task === null ? null : new SweepSession(this.rig, task, this.done);
  }
}
