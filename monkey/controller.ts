// The live plan of a running target: what the control API and smtpscript `monkey` statements
// change. It keeps the plan document, validates every change before it takes effect, and makes
// the injector and the target's fault surface follow it.
import { validatePlan } from "./plan.js";
import type { FaultPlan } from "./plan.js";
import type { Injector } from "./injector.js";
import type { FaultSurface } from "./surface.js";
import type { ScriptFaults } from "../smtpscript/runner.js";
import { parseStatement, statementSettings, StatementError } from "./statement.js";

type PointDoc = Record<string, unknown>;
export interface PlanDoc {
  windows?: Record<string, unknown>;
  points: Record<string, PointDoc>;
}

export { StatementError };

/** A `monkey` statement as a change of the plan document. Pure. */
export function applyStatement(doc: PlanDoc, args: readonly string[]): PlanDoc {
  const st = parseStatement(args);
  const points = { ...doc.points };
  if (st.verb === "clear") {
    if (st.point === null) return { ...doc, points: {} };
    delete points[st.point];
    return { ...doc, points };
  }
  points[st.point] = statementSettings(st);
  return { ...doc, points };
}

export class PlanController implements ScriptFaults {
  private doc: PlanDoc = { points: {} };

  constructor(
    private readonly injector: Injector,
    private readonly surface: FaultSurface | null,
    /** points the target can fire besides the surface's (proxy, process faults) */
    private readonly extraPoints: readonly string[] = [],
    /** called after every change (e.g. to restart time-driven process faults) */
    private readonly onChange?: (plan: FaultPlan) => Promise<void>,
    /** throws (a StatementError saying why) when the plan may not change now */
    private readonly guard?: () => void,
  ) {}

  get points(): readonly string[] {
    return [...(this.surface?.points() ?? []), ...this.extraPoints];
  }

  document(): PlanDoc {
    return this.doc;
  }

  plan(): FaultPlan {
    return this.injector.currentPlan();
  }

  /** Replaces the plan; throws PlanError (nothing changes) when the document is invalid. */
  async set(doc: unknown): Promise<FaultPlan> {
    this.guard?.();
    const plan = validatePlan(doc);
    const unknown = plan.points.map((p) => p.name).filter((p) => !this.points.includes(p) && !/^(pause|kill)\./.test(p));
    if (unknown.length > 0) throw new StatementError(`this target has no fault point ${unknown.join(", ")} (it offers ${this.points.join(", ")})`);
    const before = { plan: this.injector.currentPlan(), doc: this.doc };
    this.injector.setPlan(plan);
    this.injector.setEnabled(true);
    this.doc = doc as PlanDoc;
    try {
      await this.surface?.apply(this.injector);
      await this.onChange?.(plan);
    } catch (err) {
      // refused (e.g. a kill.<role> the target has no process for): the previous plan stays in force
      this.injector.setPlan(before.plan);
      this.doc = before.doc;
      await this.surface?.apply(this.injector);
      throw err;
    }
    return plan;
  }

  async apply(args: readonly string[]): Promise<void> {
    await this.set(applyStatement(this.doc, args));
  }

  async clear(): Promise<void> {
    await this.set({ points: {} });
  }
}
