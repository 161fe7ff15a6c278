// sys.<role>.<call> inside a real MTA, through the seccomp supervisor it runs under
// (targets/shim/seccomp-supervisor.c). It decides with the injector's own streams (the k-th
// eligible call of a point in a role's first process gets the answer injector.preview gives), so
// a run's in-MTA latency replays from its seed; its firings come back with their times and are
// recorded in the injector like its own, for the timeline, the windows and crash forensics.
import { SHIM_CALLS, type ShimCall, type ShimControl, type ShimEvent, type ShimRule } from "../../targets/process/syscall-shim.js";
import type { CallProfile } from "../surface.js";
import type { Injector } from "../injector.js";
import type { ReachInfo } from "../reach.js";
import { PlanError, type FaultSpec } from "../plan.js";

const SYS_POINT = /^sys\.(.+)\.([a-z]+)$/;
/** processes listed per point in the reach table */
const MAX_PIDS_LISTED = 32;

export class ShimError extends PlanError {
  constructor(detail: string, point: string) {
    super([{ path: `points["${point}"]`, message: detail }], "syscall shim");
    this.name = "ShimError";
  }
}

export class ShimChannel {
  private active: readonly string[] = [];
  /** every point set since the start, for notes at the end */
  private readonly planned = new Set<string>();
  private readonly fired = new Map<string, number>();
  /** since the start: firings per process of each point */
  private readonly byPid = new Map<string, Map<number, number>>();
  private readonly attachedSeen = new Map<string, number>();
  /** the counters of rules replaced by a plan change, added to the live ones */
  private readonly earlier = new Map<string, { seen: number; eligible: number; procs: number; fired: number }>();

  constructor(
    private readonly roles: readonly string[],
    private readonly control: () => ShimControl | null,
  ) {}

  points(): string[] {
    return this.roles.flatMap((r) => SHIM_CALLS.map((c) => `sys.${r.toLowerCase()}.${c}`));
  }

  owns(point: string): boolean {
    return point.startsWith("sys.");
  }

  /** The shim's rules for the plan's sys.* points; throws ShimError for what the shim cannot do. */
  rules(specs: readonly FaultSpec[]): ShimRule[] {
    return specs.filter((s) => this.owns(s.name)).map((s) => this.rule(s));
  }

  private rule(s: FaultSpec): ShimRule {
    const m = SYS_POINT.exec(s.name);
    const role = m === null ? undefined : this.roles.find((r) => r.toLowerCase() === m[1]);
    if (m === null || role === undefined) throw new ShimError(`${s.name}: no such role (roles: ${this.roles.join(", ")})`, s.name);
    const call = m[2] as ShimCall;
    if (!SHIM_CALLS.includes(call)) throw new ShimError(`${s.name}: the shim does not wrap ${call} (${SHIM_CALLS.join(", ")})`, s.name);
    const why = (what: string): never => {
      throw new ShimError(`${s.name}: ${what} cannot be seen by the syscall shim, which decides inside the MTA`, s.name);
    };
    if (s.phase !== null) why(`an SMTP phase condition (${s.phase.op} ${s.phase.phase})`);
    if (s.window !== null) why("a per-point time window (the plan's windows apply)");
    const actions = s.actions.map((a): { action: "error" | "delay"; weight: number } => {
      if (a.action !== "error" && a.action !== "delay") throw new ShimError(`${s.name}: action ${a.action} (error or delay)`, s.name);
      return { action: a.action, weight: a.weight };
    });
    if (actions.length > 2) why("more than two actions");
    return { point: s.name, role, call, schedule: s.schedule, actions, errno: s.errno ?? 5, latency: s.latency, limit: s.limit, stack: s.stack?.hash ?? null, ...(s.stack != null ? { stackDepth: s.stack.depth } : {}) };
  }

  /** while profiling: every trapped call of every role is recorded with its call site */
  private profiling: { seed: number } | null = null;

  /** A record rule per call for every role, listed first: a failing rule after it does not hide the call from it. */
  private profileRules(): ShimRule[] {
    if (this.profiling === null) return [];
    return SHIM_CALLS.map((call) => ({ point: `sys.*.${call}`, role: "*", call, schedule: { kind: "always" }, actions: [{ action: "record", weight: 1 }], errno: 5, latency: null, limit: null }));
  }

  /**
   * Starts recording every call the supervisor traps, by role, call and call site (a sweep's
   * discovery); the plan's faults stay as they are. stopProfile() gives what was seen.
   */
  startProfile(seed: number): void {
    this.profiling = { seed };
    this.set(seed, this.current);
  }

  stopProfile(): CallProfile {
    const ctl = this.control();
    const out: CallProfile = { calls: [], ineligible: {} };
    if (this.profiling === null || ctl === null || ctl.gone) return out;
    const stats = ctl.stats();
    for (const r of stats.rules) {
      if (!r.point.startsWith("sys.*.")) continue;
      const call = r.point.slice("sys.*.".length);
      if (r.seen > r.eligible) out.ineligible[call] = (out.ineligible[call] ?? 0) + r.seen - r.eligible;
    }
    for (const e of ctl.drainEvents()) {
      if (e.action === "record") this.recorded.push(e);
      else this.pendingFirings.push(e);
    }
    for (const e of this.recorded.splice(0)) out.calls.push({ at: e.atPrecise, point: `sys.${e.role.toLowerCase()}.${e.point.slice("sys.*.".length)}`, stacks: e.stacks });
    const seed = this.profiling.seed;
    this.profiling = null;
    this.set(seed, this.current);
    return out;
  }

  /** the plan's sys.* specs in force (a profile starts and stops around them) */
  private current: readonly FaultSpec[] = [];
  /** firings drained with a profile's records, handed to the injector at the next collect */
  private readonly pendingFirings: ShimEvent[] = [];
  /** a profile's records drained with firings (the collector runs while a fault is armed) */
  private readonly recorded: ShimEvent[] = [];

  /** Makes the MTA's processes follow `specs` (empty: all off). */
  set(seed: number, specs: readonly FaultSpec[]): void {
    this.current = specs.filter((s) => this.owns(s.name));
    const rules = [...this.profileRules(), ...this.rules(specs)];
    const ctl = this.control();
    if (ctl === null || ctl.gone) {
      if (rules.length > 0) throw new Error("the syscall shim's control file is not there: is the target started?");
      return;
    }
    const before = ctl.stats();
    // processes seen per role, kept across plan changes and restarts (a new control file starts at 0)
    for (const [role, n] of Object.entries(before.attached)) this.attachedSeen.set(role.toLowerCase(), Math.max(this.attachedSeen.get(role.toLowerCase()) ?? 0, n));
    for (const r of before.rules) {
      if (r.point.startsWith("sys.*.")) continue;
      const e = this.earlier.get(r.point) ?? { seen: 0, eligible: 0, procs: 0, fired: 0 };
      this.earlier.set(r.point, { seen: e.seen + r.seen, eligible: e.eligible + r.eligible, procs: Math.max(e.procs, r.procs), fired: e.fired + r.fired });
    }
    ctl.setRules(seed, rules);
    this.active = rules.filter((r) => r.role !== "*").map((r) => r.point);
    for (const p of this.active) this.planned.add(p);
  }

  get armed(): readonly string[] {
    return this.active;
  }

  /** Firings since the last call, recorded in the injector with the time they happened. */
  collect(injector: Injector): void {
    const ctl = this.control();
    if (ctl === null || ctl.gone) return;
    for (const e of [...this.pendingFirings.splice(0), ...ctl.drainEvents()]) {
      // a record changes nothing in the MTA: not a firing; kept for the profile that asked for it
      if (e.action === "record") {
        if (this.profiling !== null) this.recorded.push(e);
        continue;
      }
      // a delay lasts as long as it holds the call
      injector.recordInside({ at: e.at, point: e.point, call: e.call, action: e.action, ...(e.action === "delay" ? { until: e.at + e.value } : {}) });
      this.fired.set(e.point, (this.fired.get(e.point) ?? 0) + 1);
      const pids = this.byPid.get(e.point) ?? new Map<number, number>();
      if (pids.size < MAX_PIDS_LISTED || pids.has(e.pid)) pids.set(e.pid, (pids.get(e.pid) ?? 0) + 1);
      this.byPid.set(e.point, pids);
    }
  }

  /** point -> firings since the last drain. */
  drain(injector: Injector): Map<string, number> {
    this.collect(injector);
    const out = new Map(this.fired);
    this.fired.clear();
    return out;
  }

  /** What the mechanism counted for every sys.* point planned since the start. */
  reach(): Record<string, ReachInfo> {
    const ctl = this.control();
    if (this.planned.size === 0) return {};
    const stats = ctl === null || ctl.gone ? null : ctl.stats();
    const live = new Map((stats?.rules ?? []).map((r) => [r.point, r]));
    const attached = stats?.attached ?? {};
    const out: Record<string, ReachInfo> = {};
    for (const point of this.planned) {
      const [, role = "", call = ""] = SYS_POINT.exec(point) ?? [];
      const e = this.earlier.get(point) ?? { seen: 0, eligible: 0, procs: 0, fired: 0 };
      const r = live.get(point);
      const seen = e.seen + (r?.seen ?? 0);
      const eligible = e.eligible + (r?.eligible ?? 0);
      const processes = Math.max(e.procs, r?.procs ?? 0);
      // the mechanism's own counter: the ring of firings may have overwritten some
      const fired = e.fired + (r?.fired ?? 0);
      const inRole = Math.max(this.attachedSeen.get(role) ?? 0, Object.entries(attached).find(([name]) => name.toLowerCase() === role)?.[1] ?? 0);
      const reason =
        fired > 0 ? null
        : inRole === 0 && seen === 0 ? `no process of role ${role} was seen calling ${call} (nor any other trapped call)`
        : seen === 0 ? `no process of role ${role} called ${call} (its ${inRole} process(es) made other trapped calls)`
        : eligible === 0 ? `role ${role} made ${seen} ${call} call(s), none eligible${call === "write" || call === "read" ? " (only its own pipes and unix sockets count, not clients or files)" : ""}`
        : `${eligible} eligible ${call} call(s), none drawn by the schedule`;
      out[point] = {
        mechanism: "seccomp",
        fired,
        seen,
        eligible,
        processes,
        byProcess: Object.fromEntries([...(this.byPid.get(point) ?? new Map<number, number>())].map(([pid, n]) => [String(pid), n])),
        ...(reason !== null ? { reason } : {}),
      };
    }
    return out;
  }

  /** For the report: firings the ring lost (a point that never fired is in the reach table, not here). */
  notes(): string[] {
    const ctl = this.control();
    if (ctl === null || ctl.lostEvents === 0) return [];
    return [`the syscall mechanism's ring overwrote ${ctl.lostEvents} firings before they were read: the timeline and the per-process counts miss them (the totals do not)`];
  }
}
