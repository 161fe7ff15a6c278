// power.cut: the host loses power during the flood. Every process of the MTA is killed at once,
// the durable directories keep only what the action's persistence model says survives the
// operations recorded since the MTA last started, and the MTA starts again on that. Decided on a
// timer (interval); the ledger charges the acknowledged mail each cut lost to it.
import type { Target } from "../../../targets/target.js";
import type { Injector } from "../../injector.js";
import type { FaultPlan } from "../../plan.js";
import { MODELS, modelNamed } from "../../crash/models.js";
import { PowerSupply } from "../../crash/power.js";
import type { AttachContext, FaultLayerUnit, LayerInstance, LayerReport, StartContext, TargetNeeds } from "../unit.js";

const POINT = "power.cut";
/** after the MTA is back, failures are still the cut's while clients reconnect */
const SETTLE_MS = 2_000;

export const powerLayer: FaultLayerUnit = {
  name: "power",
  summary: "the host loses power: every process of the MTA killed at once, un-synced writes dropped by a persistence model, the MTA started again",
  kinds: [
    {
      family: "power",
      patterns: [POINT],
      match: /^power\.cut$/,
      // the action is the persistence model that decides what the cut drops
      actions: MODELS.map((m) => m.name),
      timeDriven: true,
      // a cut hits every process (crash reports; the ledger charges queued mail lost after a 250 to it)
      roleOf: () => "every process",
      excuses: ["close-without-reply", "reset-without-reply", "unreachable", "hang"],
    },
  ],
  charge: "target",
  unavailable: "a target with durable directories, as a process of its own, and the recording file system (root, FUSE: npm run setup:mtas)",
  // only when the plan names it: the recording must run from the MTA's first start, so a plan set
  // later over the control API (monkey serve) cannot add it
  attach: (ctx) => (ctx.planned ? new PowerLayer(ctx) : null),
};

class PowerLayer implements LayerInstance {
  private supply: PowerSupply | null = null;
  private target: Target | null = null;
  private timer: NodeJS.Timeout | null = null;
  private cutting = false;
  private cuts = 0;
  private dropped = 0;
  private readonly errors: string[] = [];
  private readonly injector: Injector;
  private readonly stage: (text: string) => void;

  constructor(ctx: AttachContext) {
    this.injector = ctx.injector;
    this.stage = ctx.stage;
  }

  points(): string[] {
    return this.target?.powerCut === undefined || (this.target.durableDirs?.() ?? []).length === 0 ? [] : [POINT];
  }

  /** One recording for the whole run; each cut asks it with the model of its action. */
  async prepare(): Promise<TargetNeeds> {
    const rec = new PowerSupply(this.injector.seed);
    this.supply = rec;
    return { beforeLaunch: rec.beforeLaunch, onStopped: () => rec.stopped(), ownProcess: true };
  }

  async start(ctx: StartContext): Promise<void> {
    this.target = ctx.target;
  }

  refusal(points: readonly string[]): string | null {
    if (!points.includes(POINT)) return null;
    const t = this.target;
    if (t === null) return null;
    if (t.powerCut === undefined) return `${POINT} refused: ${t.name} runs inside the toolkit's process and cannot lose power`;
    if ((t.durableDirs?.() ?? []).length === 0) return `${POINT} refused: ${t.name} names no durable directories (durable: in its target file)`;
    return null;
  }

  async follow(plan: FaultPlan): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const spec = plan.points.find((p) => p.name === POINT);
    if (spec === undefined) return;
    this.timer = setInterval(() => void this.tick(), spec.intervalMs ?? 10_000);
  }

  private async tick(): Promise<void> {
    if (this.cutting || this.supply === null) return;
    const d = this.injector.decide(POINT);
    // the heal may have come between the timer and the decision: no cut once faults are over
    if (d === null) return;
    const fired = this.injector.lastFired(POINT);
    if (this.timer === null) {
      if (fired !== null) this.injector.unfire(fired);
      return;
    }
    const model = modelNamed(d.action);
    if (model === undefined) return;
    this.cutting = true;
    try {
      const r = await this.supply.cut(model);
      this.cuts++;
      this.dropped += r.dropped;
      this.stage(`power.cut (${model.name}): the MTA lost power; ${r.dropped} of ${r.ops} operations since it started dropped; started again`);
      if (fired !== null) {
        // the cut is complete when the last process died: a 250 read while it was going down is the cut's
        fired.at = r.at;
        fired.until = Date.now() + SETTLE_MS;
      }
    } catch (err) {
      const why = (err as Error).message;
      this.errors.push(why);
      this.stage(`power.cut failed: ${why}`);
      if (fired !== null) this.injector.unfire(fired);
    } finally {
      this.cutting = false;
    }
  }

  async heal(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    // a cut in progress finishes (the MTA is started again) before the drain
    while (this.cutting) await new Promise((r) => setTimeout(r, 50));
  }

  async stop(): Promise<void> {
    await this.heal();
    await this.supply?.unmount();
  }

  report(): LayerReport {
    return {
      lines: this.cuts === 0 && this.errors.length === 0 ? [] : [`power.cut: ${this.cuts} cut${this.cuts === 1 ? "" : "s"}, ${this.dropped} recorded operations dropped${this.errors.length > 0 ? `; ${this.errors.length} failed (${this.errors[0]})` : ""}`],
      reach: { [POINT]: { mechanism: "power", processes: this.cuts, ...(this.cuts === 0 ? { reason: this.errors[0] ?? "no cut was decided" } : {}) } },
    };
  }
}
