// pause.<role>, kill.<role>: SIGSTOP/SIGCONT or SIGKILL of one process of the target, decided on
// a timer (ProcessFaults). Roles come from target.processes(); a real MTA's fault surface owns
// the roles it describes, this layer takes the others (a child-mode embedded MTA's smtpd...).
// Always attached: a plan set while the target runs may add such points, and idle it costs nothing.
import type { RoleProcess, Target } from "../../../targets/target.js";
import type { Injector } from "../../injector.js";
import type { FaultPlan } from "../../plan.js";
import { ProcessFaults, ProcessHits, smtpPorts, processPointsOf, refuseMissingRoles, type ProcessFaultEvent } from "../process.js";
import type { AttachContext, FaultLayerUnit, LayerInstance, LayerReport, StartContext } from "../unit.js";

const FAMILIES = ["pause", "kill"];
const roleOf = (point: string): string => point.slice(point.indexOf(".") + 1);

export const processLayer: FaultLayerUnit = {
  name: "process",
  summary: "one process of the target is paused (SIGSTOP/SIGCONT) or killed, by role",
  kinds: [
    { family: "pause", patterns: ["pause.<role>"], match: /^pause\.[a-z][a-z0-9 _-]*$/, actions: ["pause"], timeDriven: true, needs: ["duration"], scoped: true, roleOf },
    { family: "kill", patterns: ["kill.<role>"], match: /^kill\.[a-z][a-z0-9 _-]*$/, actions: ["kill"], timeDriven: true, scoped: true, roleOf },
  ],
  // no connection: a pause counts for every session it overlapped
  charge: "target",
  attach: (ctx) => new ProcessLayer(ctx),
};

class ProcessLayer implements LayerInstance {
  private target: Target | null = null;
  private procs: RoleProcess[] = [];
  /** pause/kill points the target's surface schedules itself */
  private owned: readonly string[] = [];
  private faults: ProcessFaults | null = null;
  private earlierEvents = 0;
  /** processes each point hit, across plan changes: the reach of every point it was given */
  private readonly hits = new ProcessHits();
  private readonly injector: Injector;
  private readonly stage: (text: string) => void;

  constructor(ctx: AttachContext) {
    this.injector = ctx.injector;
    this.stage = ctx.stage;
  }

  points(): string[] {
    const roles = [...new Set(this.procs.map((p) => p.role.toLowerCase()))];
    return roles.flatMap((r) => [`pause.${r}`, `kill.${r}`]).filter((p) => !this.owned.includes(p));
  }

  async start(ctx: StartContext): Promise<void> {
    this.target = ctx.target;
    this.owned = (ctx.surface?.points() ?? []).filter((p) => FAMILIES.includes(p.slice(0, p.indexOf("."))));
    await this.sync();
  }

  async sync(): Promise<void> {
    if (this.target !== null) this.procs = await this.target.processes();
  }

  refusal(points: readonly string[]): string | null {
    const mine = points.filter((p) => processLayer.kinds.some((k) => k.match.test(p)));
    try {
      refuseMissingRoles(mine, this.procs, this.target?.name ?? "the target");
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  async follow(plan: FaultPlan): Promise<void> {
    const target = this.target;
    if (target === null) return;
    const only = processPointsOf(plan.points, this.owned);
    this.earlierEvents += this.faults?.events.length ?? 0;
    await this.faults?.stop();
    this.faults = null;
    this.hits.plan(only);
    if (only.length === 0) return;
    this.faults = new ProcessFaults({ injector: this.injector, processes: () => target.processes(), ports: () => smtpPorts(target), onEvent: (e) => this.log(e), only, hits: this.hits, expectDeath: (pid) => target.expectDeath?.(pid) });
    await this.faults.start();
  }

  private log(e: ProcessFaultEvent): void {
    if (e.error !== undefined) this.stage(`${e.point}: ${e.action} ${e.role} failed: ${e.error}`);
  }

  async heal(): Promise<void> {
    await this.faults?.stop();
  }

  async stop(): Promise<void> {
    await this.faults?.stop();
  }

  report(): LayerReport {
    return { details: { events: this.earlierEvents + (this.faults?.events.length ?? 0) }, reach: this.hits.reach() };
  }
}
