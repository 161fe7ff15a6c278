// One sweep transaction at a time, through the shared transaction engine: the flood runs it like
// any session (the oracle judges it, the ledger tracks its message); this session only arms its
// failure when the client is about to send the command of its phase, and disarms it when the
// next phase opens. After the QUIT the delivery phase lasts until the queue is empty again, so
// the next transaction starts on an idle MTA and every call is charged to the right one.
import { runSmtpSession, type Step, type StepObserver, type Traffic, type TrafficContext, type TrafficSession, type SessionResult } from "../../smtp/index.js";
import type { Target } from "../../targets/target.js";
import type { PlanController } from "../controller.js";
import type { Injector } from "../injector.js";
import type { FailureId } from "./failures.js";
import { PhaseTimeline, phaseOfStep, type SweepPhase } from "./phases.js";
import type { ProfiledCall } from "./sites.js";

/**
 * How long the client holds the session open after the 250 before its QUIT: the "after-250" phase
 * is what the MTA does right after it acknowledged (the hand-off to its queue manager, the first
 * delivery attempt), a window long enough that this work falls in it run after run, not only when
 * the QUIT happens to come late.
 */
export const AFTER_250_HOLD_MS = 250;

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

export type SweepTask = { kind: "profile" } | { kind: "inject"; failure: FailureId };

export interface TaskResult {
  task: SweepTask;
  timeline: PhaseTimeline;
  /** inject: the failure fired while armed; profile: null */
  fired: boolean | null;
  /** profile: the calls seen */
  calls: ProfiledCall[];
  /** what went wrong arming it (a refusal of the plan): the failure was not injected */
  armError: string | null;
  /** the queue did not empty within deliveryWaitMs after the transaction */
  queueStuck: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Observes for the flood's recorder and arms for the sweep: every hook goes to both. */
function alongside(inner: StepObserver, before: (step: Step) => Promise<void>): StepObserver {
  return {
    timed: (s, ms) => inner.timed?.(s, ms),
    reply: (s, r) => inner.reply?.(s, r),
    refused: (s, r, e) => inner.refused?.(s, r, e),
    failed: (s, e) => inner.failed?.(s, e),
    connected: (p) => inner.connected?.(p),
    transport: (w) => inner.transport?.(w),
    begin: (tx) => inner.begin?.(tx),
    dot: (tx) => inner.dot?.(tx),
    before,
  };
}

class SweepSession implements TrafficSession {
  readonly kind = "sweep";
  private armedPoint: string | null = null;
  private fired: boolean | null = null;
  private armError: string | null = null;

  constructor(
    private readonly rig: SweepRig,
    private readonly task: SweepTask,
    private readonly done: (r: TaskResult) => void,
  ) {}

  async run(ctx: TrafficContext): Promise<SessionResult> {
    const timeline = new PhaseTimeline();
    const stopProfile = this.task.kind === "profile" ? this.rig.profile() : null;
    let result: SessionResult;
    let queueStuck = false;
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
        observer: alongside(ctx.client.observer ?? {}, before),
        transactions: 1,
        transaction: (i) => ctx.mail.transaction(i, 1, SIZE),
      });
      timeline.enter("delivery");
      await this.enter("delivery");
      queueStuck = !(await this.drained());
    } finally {
      await this.disarm();
      timeline.end();
    }
    if (this.task.kind === "inject" && this.fired === true) await this.settleAfter(this.task.failure);
    this.done({ task: this.task, timeline, fired: this.task.kind === "inject" ? this.fired === true : null, calls: stopProfile?.() ?? [], armError: this.armError, queueStuck });
    return result;
  }

  /** A phase opens: the failure armed for the one before ends, this phase's is armed. */
  private async enter(phase: SweepPhase): Promise<void> {
    await this.disarm();
    if (this.task.kind !== "inject" || this.task.failure.site.phase !== phase || this.armError !== null) return;
    const f = this.task.failure;
    try {
      await this.rig.controller.set({ points: { [f.site.point]: f.settings } });
      this.armedPoint = f.site.point;
    } catch (err) {
      this.armError = err instanceof Error ? err.message : String(err);
      return;
    }
    // a kill is decided on a timer: let it land before the phase's command goes out
    if (f.settings.interval !== undefined) await this.firedOrTimeout(f.site.point, 2_000);
  }

  private async firedOrTimeout(point: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && (this.rig.injector.stats().find((s) => s.point === point)?.fired ?? 0) === 0) await sleep(10);
  }

  private async disarm(): Promise<void> {
    const point = this.armedPoint;
    if (point === null) return;
    this.armedPoint = null;
    const unreached = await this.rig.controller.clear();
    this.fired = !unreached.includes(point);
  }

  /** Waits until the queue is empty (at least long enough for the MTA's delivery to start); false when it never was. */
  private async drained(): Promise<boolean> {
    const t = this.rig.target;
    await sleep(100);
    if (t.queueObservable === false) {
      await sleep(Math.min(1_000, this.rig.deliveryWaitMs));
      return true;
    }
    const deadline = Date.now() + this.rig.deliveryWaitMs;
    for (;;) {
      let size: number;
      try {
        size = await t.queueSize();
      } catch {
        return false;
      }
      if (size === 0) return true;
      if (Date.now() >= deadline) return false;
      await sleep(50);
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
