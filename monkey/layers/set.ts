// The layers wired to one target, through the registry: which points the target offers (its
// fault surface's and the layers'), the refusal of the others, and the layers' life around the
// target's (before it is created, once it runs, at each plan, at the heal, at the stop).
// `monkey run`, `monkey serve` and the control API all go through here.
import { UserError } from "../../common/errors.js";
import type { Injector } from "../injector.js";
import type { FaultPlan } from "../plan.js";
import type { FaultSurface } from "../surface.js";
import type { FiredFault } from "../injector.js";
import { describePoints, layerUnits, unitOf } from "./registry.js";
import type { FaultLayerUnit, LayerInstance, LayerReport, StartContext, TargetNeeds } from "./unit.js";

/** The plan names fault points the target cannot fire: a usage error, never silently ignored. */
export class UnsupportedPointsError extends UserError {
  constructor(
    readonly points: string[],
    readonly supported: string[],
    target: string,
    /** why, when a layer knows (a role the target has no process for) */
    detail = "",
  ) {
    super(`${target} has no fault point ${points.join(", ")}; it offers ${describePoints(supported) || "none"}${detail}`);
  }
}

export interface AttachOptions {
  /** `monkey serve`: every layer, ready for whatever plan comes later; else those the plan names */
  serving?: boolean;
  /** a server the toolkit does not run: only layers that reach it from outside */
  unmanaged?: boolean;
  stage?: (text: string) => void;
  /** ports asked for, by layer name */
  ports?: Readonly<Record<string, number>>;
}

interface Attached {
  unit: FaultLayerUnit;
  instance: LayerInstance;
  /** set up before the target: stopped after it */
  prepared: boolean;
}

export class LayerSet {
  private surface: FaultSurface | null = null;
  private started = false;

  private constructor(private attached: Attached[]) {}

  /** The layers with wiring of their own that this plan (or serving) calls for. */
  static attach(injector: Injector, plan: FaultPlan, o: AttachOptions = {}): LayerSet {
    const attached: Attached[] = [];
    for (const unit of layerUnits()) {
      if (unit.attach === undefined || (o.unmanaged === true && unit.unmanaged !== true)) continue;
      const planned = plan.points.some((s) => unit.kinds.some((k) => k.family === s.family));
      const instance = unit.attach({ injector, planned, serving: o.serving === true, stage: o.stage ?? (() => {}), ports: o.ports ?? {} });
      if (instance !== null) attached.push({ unit, instance, prepared: false });
    }
    return new LayerSet(attached);
  }

  /** Layers that must run before the target is created (the next hop), and what they need of it. */
  async prepare(): Promise<TargetNeeds> {
    const needs: TargetNeeds = {};
    for (const a of this.attached) {
      if (a.instance.prepare === undefined) continue;
      a.prepared = true;
      const n = await a.instance.prepare();
      if (n.nextHop !== undefined) needs.nextHop = n.nextHop;
      if (n.mailboxes !== undefined) needs.mailboxes = [...(needs.mailboxes ?? []), ...n.mailboxes];
      if (n.beforeLaunch !== undefined) needs.beforeLaunch = n.beforeLaunch;
      if (n.onStopped !== undefined) needs.onStopped = n.onStopped;
      if (n.ownProcess === true) needs.ownProcess = true;
    }
    return needs;
  }

  /** Gives up the layers set up before the target (a target that cannot take them); returns their names. */
  async dropPrepared(): Promise<string[]> {
    const dropped = this.attached.filter((a) => a.prepared);
    this.attached = this.attached.filter((a) => !a.prepared);
    for (const a of dropped) await a.instance.stop();
    return dropped.map((a) => a.unit.name);
  }

  names(): string[] {
    return this.attached.map((a) => a.unit.name);
  }

  /** The target's fault surface fires the points of layers without wiring of their own. */
  useSurface(surface: FaultSurface | null): void {
    this.surface = surface;
  }

  /** Every point the target offers: its surface's, then the layers'. */
  points(): string[] {
    return [...new Set([...(this.surface?.points() ?? []), ...this.attached.flatMap((a) => a.instance.points())])];
  }

  /**
   * The refusal of the points of `names` the target does not offer, or null. Before the target
   * runs, a point of an attached layer passes (its processes are not known yet); the check is
   * exact once it runs.
   */
  unsupported(names: readonly string[], target: string): UnsupportedPointsError | null {
    const offered = this.points();
    const pending = this.started ? [] : this.attached.map((a) => a.unit);
    const missing = [...new Set(names)].filter((p) => !offered.includes(p) && !pending.some((u) => u === unitOf(p)));
    if (missing.length === 0) return null;
    const later = pending.flatMap((u) => u.kinds.flatMap((k) => k.patterns)).filter((p) => !offered.includes(p));
    const why = this.attached.map((a) => a.instance.refusal?.(missing) ?? null).filter((w) => w !== null);
    // a layer none of whose points this target offers says what it takes
    for (const u of new Set(missing.map(unitOf))) if (u?.unavailable !== undefined && !offered.some((p) => unitOf(p) === u)) why.push(u.unavailable);
    const detail = `${later.length > 0 ? ` (plus ${later.join(", ")})` : ""}${why.map((w) => ` (${w})`).join("")}`;
    return new UnsupportedPointsError(missing, offered, target, detail);
  }

  /** The target runs: the layers start; returns where clients connect (a proxy may stand in front). */
  async start(ctx: StartContext): Promise<{ host: string; port: number }> {
    let endpoint = ctx.endpoint;
    for (const a of this.attached) endpoint = (await a.instance.start({ ...ctx, endpoint })) ?? endpoint;
    this.started = true;
    return endpoint;
  }

  /** Throws UnsupportedPointsError for a plan the target cannot carry out, as it is now. */
  async admit(plan: FaultPlan, target: string): Promise<void> {
    for (const a of this.attached) await a.instance.sync?.();
    const err = this.unsupported(plan.points.map((s) => s.name), target);
    if (err !== null) throw err;
  }

  /** A new plan is in force (the injector has it): refused as admit() does, else every layer follows it. */
  async follow(plan: FaultPlan, target: string): Promise<void> {
    await this.admit(plan, target);
    for (const a of this.attached) await a.instance.follow?.(plan);
  }

  /** Faults are over for good. */
  async heal(): Promise<void> {
    for (const a of this.attached) await a.instance.heal?.();
  }

  /** Stops the layers set up once the target ran (before the target stops)... */
  async stopBeforeTarget(): Promise<void> {
    for (const a of this.attached) if (!a.prepared) await a.instance.stop();
  }

  /** ...and those set up before it (after it stopped). */
  async stopAfterTarget(): Promise<void> {
    for (const a of this.attached) if (a.prepared) await a.instance.stop();
  }

  /**
   * The fired faults charged to a flood session that ran from `from` to `to` from client port
   * `clientPort`: those that know their connection count for it only, the others by time; the
   * port the target saw differs from the client's when a layer stands in between.
   */
  chargedTo(fired: readonly FiredFault[], clientPort: number | undefined): string[] {
    return this.charge(fired, clientPort).faults;
  }

  /**
   * The points charged to the session from clientPort, and among them those that paused or
   * killed the process serving it (FiredFault.served, target-side ports).
   */
  charge(fired: readonly FiredFault[], clientPort: number | undefined): { faults: string[]; selfInflicted: string[] } {
    const front = this.attached.find((a) => a.instance.upstreamPortOf !== undefined)?.instance;
    const targetSide = clientPort === undefined || front === undefined ? clientPort : front.upstreamPortOf?.(clientPort);
    const faults: string[] = [];
    const selfInflicted: string[] = [];
    for (const f of fired) {
      const charge = unitOf(f.point)?.charge ?? "target";
      if (charge === "none") continue;
      if (clientPort === undefined || f.conn === undefined || f.conn === (charge === "client" ? clientPort : targetSide)) faults.push(f.point);
      if (targetSide !== undefined && f.served?.includes(targetSide) === true) selfInflicted.push(f.point);
    }
    return { faults, selfInflicted };
  }

  /** Where the layers sit, for people. */
  describe(): string[] {
    return this.attached.map((a) => a.instance.describe?.() ?? null).filter((d) => d !== null);
  }

  /** Ledger ids the layers received themselves. */
  deliveredIds(): Array<string | null> {
    return this.attached.flatMap((a) => a.instance.deliveredIds?.() ?? []);
  }

  /** What each attached layer says of itself, with its name. */
  reports(): Array<LayerReport & { layer: string }> {
    return this.attached.map((a) => ({ ...(a.instance.report?.() ?? {}), layer: a.unit.name }));
  }
}
