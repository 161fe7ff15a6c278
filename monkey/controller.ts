// The live plan of a running target, and the one interpreter of smtpscript's `monkey` statement:
// the control API (`monkey run`, `monkey serve`) and smtpscript's own targets change the plan
// through here. It keeps the plan document, checks every change against the fault layers'
// registry and the target's points before it takes effect, and makes the injector, the target's
// fault surface and the layers follow it.
import { validatePlan } from "./plan.js";
import type { FaultPlan } from "./plan.js";
import type { Injector } from "./injector.js";
import type { DelayInstead, FaultSurface } from "./surface.js";
import type { ScriptFaults } from "../smtpscript/runner.js";
import { parseStatement, StatementError, type MonkeyStatement } from "./statement.js";
import { kindOf } from "./layers/registry.js";
import { UnsupportedPointsError, type LayerSet } from "./layers/set.js";

type PointDoc = Record<string, unknown>;
export interface PlanDoc {
  windows?: Record<string, unknown>;
  points: Record<string, PointDoc>;
}

export { StatementError };

/** The plan settings of a fail/delay statement (see monkey/plan.ts); the point's layer says what "fail" is. */
export function statementSettings(st: Exclude<MonkeyStatement, { verb: "clear" }>): PointDoc {
  const schedule = { ...(st.times === 1 ? { once: true } : st.times === null ? { always: true } : { always: true, limit: st.times }), ...(st.site !== undefined ? { stack: st.site } : {}) };
  if (st.verb === "delay") return { ...schedule, action: "delay", latency: `${st.delayMs}ms` };
  const fail = kindOf(st.point)?.failAction;
  return { ...schedule, ...(fail !== undefined ? { action: fail } : {}), ...(st.errno !== undefined ? { errno: st.errno } : {}) };
}

/** A `monkey` statement as a change of the plan document. Pure. */
export function applyStatement(doc: PlanDoc, args: readonly string[], delayInstead?: DelayInstead): PlanDoc {
  const st = parseStatement(args);
  const points = { ...doc.points };
  if (st.verb === "clear") {
    if (st.point === null) return { ...doc, points: {} };
    delete points[st.point];
    return { ...doc, points };
  }
  const instead = st.verb === "delay" ? (delayInstead?.(st.point, st.delayMs) ?? null) : null;
  if (instead !== null) points[instead[0]] = instead[1];
  else points[st.point] = statementSettings(st);
  return { ...doc, points };
}

export interface PlanControllerOptions {
  injector: Injector;
  surface: FaultSurface | null;
  /** the layers wired to the target (run, serve); without them, the surface's points only */
  layers?: LayerSet | null;
  /** the target's name, for refusals */
  target: string;
  /** throws (a StatementError saying why) when the plan may not change now */
  guard?: () => void;
}

export class PlanController implements ScriptFaults {
  private doc: PlanDoc = { points: {} };
  /** since the last clear: the points a statement or plan armed, and those that fired */
  private readonly armed = new Set<string>();
  private readonly fired = new Set<string>();

  constructor(private readonly o: PlanControllerOptions) {
    o.injector.onFire((f) => this.fired.add(f.point));
  }

  get points(): readonly string[] {
    return this.o.layers?.points() ?? this.o.surface?.points() ?? [];
  }

  document(): PlanDoc {
    return this.doc;
  }

  plan(): FaultPlan {
    return this.o.injector.currentPlan();
  }

  /** Replaces the plan; throws PlanError or StatementError (nothing changes) when it cannot be carried out. */
  async set(doc: unknown): Promise<FaultPlan> {
    return this.change(doc, false);
  }

  async apply(args: readonly string[]): Promise<void> {
    const instead = this.o.surface?.delayInstead?.bind(this.o.surface);
    await this.change(applyStatement(this.doc, args, instead), true);
  }

  /**
   * Ends every fault (a paused process is resumed); the target keeps running. Returns the points
   * still armed that never fired since the last clear (the surface reads back in-target firings
   * first); one a statement withdrew before it fired is not among them.
   */
  async clear(): Promise<string[]> {
    this.o.guard?.();
    await this.o.surface?.clear();
    const plan = validatePlan({ points: {} });
    this.o.injector.setPlan(plan);
    this.doc = { points: {} };
    await this.o.layers?.follow(plan, this.o.target);
    const unreached = [...this.armed].filter((p) => !this.fired.has(p));
    this.armed.clear();
    this.fired.clear();
    return unreached;
  }

  /** `amend`: a statement, after which the points it did not touch go on counting where they were. */
  private async change(doc: unknown, amend: boolean): Promise<FaultPlan> {
    const { injector, surface, layers, target } = this.o;
    this.o.guard?.();
    const plan = validatePlan(doc);
    await this.admit(plan);
    const before = { plan: injector.currentPlan(), doc: this.doc };
    const load = (p: FaultPlan): void => (amend ? injector.amendPlan(p) : injector.setPlan(p));
    load(plan);
    // a point the script withdrew (monkey clear X) before it fired was not meant to be reached
    for (const p of this.armed) if (!this.fired.has(p) && !plan.points.some((x) => x.name === p)) this.armed.delete(p);
    for (const p of plan.points) this.armed.add(p.name);
    injector.setEnabled(true);
    this.doc = doc as PlanDoc;
    try {
      await surface?.apply(injector);
      await layers?.follow(plan, target);
    } catch (err) {
      // refused by the surface (a setting libfiu lacks): the previous plan stays in force
      load(before.plan);
      this.doc = before.doc;
      await surface?.apply(injector);
      await layers?.follow(before.plan, target);
      throw err instanceof UnsupportedPointsError ? new StatementError(err.message) : err;
    }
    return plan;
  }

  /** A StatementError naming the points the target does not offer (and why, when a layer knows). */
  private async admit(plan: FaultPlan): Promise<void> {
    if (this.o.layers) {
      await this.o.layers.admit(plan, this.o.target).catch((err: unknown) => {
        throw err instanceof UnsupportedPointsError ? new StatementError(err.message) : err;
      });
      return;
    }
    const unknown = plan.points.map((p) => p.name).filter((p) => !this.points.includes(p));
    if (unknown.length > 0) throw new StatementError(new UnsupportedPointsError(unknown, [...this.points], this.o.target).message);
  }
}
