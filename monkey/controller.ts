// The live plan of a running target: what the control API and smtpscript `monkey` statements
// change. It keeps the plan document, validates every change before it takes effect, and makes
// the injector and the target's fault surface follow it.
import { validatePlan } from "./plan.js";
import type { FaultPlan } from "./plan.js";
import type { Injector } from "./injector.js";
import type { FaultSurface } from "./surface.js";
import type { ScriptFaults } from "../smtpscript/runner.js";

type PointDoc = Record<string, unknown>;
export interface PlanDoc {
  windows?: Record<string, unknown>;
  points: Record<string, PointDoc>;
}

export class StatementError extends Error {}

/**
 * `monkey fail POINT [once | always | times N]`, `monkey delay POINT DURATION [once | always |
 * times N]`, `monkey clear [POINT]` as a change of the plan document. Pure.
 */
export function applyStatement(doc: PlanDoc, args: readonly string[]): PlanDoc {
  const [verb, point, ...rest] = args;
  const points = { ...doc.points };
  if (verb === "clear") {
    if (point === undefined) return { ...doc, points: {} };
    delete points[point];
    return { ...doc, points };
  }
  if (verb !== "fail" && verb !== "delay") throw new StatementError(`monkey: unknown action "${verb ?? ""}" (fail, delay, clear)`);
  if (point === undefined) throw new StatementError(`monkey ${verb}: which fault point?`);
  const spec: PointDoc = {};
  if (verb === "delay") {
    const d = rest.shift();
    if (d === undefined) throw new StatementError("monkey delay: expected a duration such as 500ms after the point");
    spec.action = "delay";
    spec.latency = d;
  } else if (point.startsWith("lookup.")) spec.action = "tempfail";
  const mode = rest.join(" ") || "once";
  if (mode === "once") spec.once = true;
  else if (mode === "always") spec.always = true;
  else {
    const m = /^times (\d+)$/.exec(mode);
    if (m === null) throw new StatementError(`monkey ${verb}: expected once, always or "times N", got "${mode}"`);
    spec.always = true;
    spec.limit = Number(m[1]);
  }
  points[point] = spec;
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
    const plan = validatePlan(doc);
    const unknown = plan.points.map((p) => p.name).filter((p) => !this.points.includes(p) && !/^(pause|kill)\./.test(p));
    if (unknown.length > 0) throw new StatementError(`this target has no fault point ${unknown.join(", ")} (it offers ${this.points.join(", ")})`);
    this.injector.setPlan(plan);
    this.injector.setEnabled(true);
    this.doc = doc as PlanDoc;
    await this.surface?.apply(this.injector);
    await this.onChange?.(plan);
    return plan;
  }

  async apply(args: readonly string[]): Promise<void> {
    await this.set(applyStatement(this.doc, args));
  }

  async clear(): Promise<void> {
    await this.set({ points: {} });
  }
}
