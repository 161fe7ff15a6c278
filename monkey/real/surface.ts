// A real MTA's fault surface: libfiu points (decided inside the MTA), lookup points (decided by
// the injector in our process, through the target's socketmap server) and process points
// (pause.<role>/kill.<role>, through ProcessFaults). The MTA-specific part is how libfiu
// commands reach the processes (FiuChannel).
import type { Target } from "../../targets/target.js";
import type { LoggedFault } from "../../targets/fault-hooks.js";
import type { Injector } from "../injector.js";
import type { FaultSpec } from "../plan.js";
import type { CallProfile, FaultSurface } from "../surface.js";
import type { ReachInfo } from "../reach.js";
import { ProcessFaults, ProcessHits, smtpPorts, type ProcessFaultEvent } from "../layers/process.js";
import { FiuError, fiuCommands, type FiuStackScope } from "./libfiu.js";
import { StatementError } from "../statement.js";
import { LOOKUP_POINTS, type TargetLookups } from "./lookups.js";
import type { ShimChannel } from "./syscalls.js";

/** How libfiu commands reach the MTA's processes. */
export interface FiuChannel {
  /** replaces every libfiu setting of the targeted processes by `commands` (empty = all off) */
  set(commands: string[]): Promise<void>;
  /** libfiu call-stack scope this MTA needs (its describeFaults says) */
  readonly scope: FiuStackScope;
  /** smtpchaos point -> libfiu failure points in this MTA */
  readonly points: Readonly<Record<string, readonly string[]>>;
  /** the MTA's own wording of failed calls, tried before the generic one */
  readonly logged: readonly LoggedFault[];
}

export interface RealSurfaceOptions {
  target: Target;
  /** the router the target's lookups go to, when they do */
  lookups: TargetLookups | null;
  /** null when the target runs nothing under libfiu */
  fiu: FiuChannel | null;
  /** absent when the target does not run under the syscall mechanism (seccomp supervisor) */
  shim?: ShimChannel | null;
  /** roles that process faults may address (pause.<role>, kill.<role>) */
  roles: readonly string[];
  /** the role that owns the queue alone: stopped to delay queue.* calls (null: none does) */
  stallRole?: string | null;
  onProcessEvent?: (e: ProcessFaultEvent) => void;
}

/** how often the syscall mechanism's firings are read back while its rules are on (sessions are judged 1.5 s after they end) */
const SHIM_COLLECT_MS = 250;

/** Names the errno strings MTAs log, to count libfiu faults from log lines (drainFired). */
const ERRNO_TEXT: Readonly<Record<number, string>> = { 5: "Input/output error", 28: "No space left on device" };
/** the syscall an MTA names in its log line -> the point that made it fail */
const LOGGED_CALL: ReadonlyArray<[RegExp, string]> = [
  [/\bopen\b|mail_queue_enter|create file/, "queue.open"],
  [/\bfsync\b|fdatasync/, "queue.fsync"],
  [/\bf?write\b|fflush|write error/, "queue.write"],
  [/\bf?read\b/, "queue.read"],
  [/\brename\b|\bunlink\b|\bopendir\b|\bmkdir\b|readdir/, "queue.dir"],
];

export class RealFaultSurface implements FaultSurface {
  private processFaults: ProcessFaults | null = null;
  private fiuActive: FaultSpec[] = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly fired = new Map<string, number>();
  /** libfiu firings read from the log since the start (an estimate), and every libfiu point planned */
  private readonly fiuTotal = new Map<string, number>();
  private readonly fiuPlanned = new Set<string>();
  /** processes each pause/kill point signalled, across plan changes */
  private readonly processHits = new ProcessHits();
  private unsubscribeLog: (() => void) | null = null;
  private injector: Injector | null = null;
  private collector: NodeJS.Timeout | null = null;

  constructor(private readonly o: RealSurfaceOptions) {}

  points(): string[] {
    const out: string[] = [];
    if (this.o.fiu !== null) out.push(...Object.keys(this.o.fiu.points));
    if (this.o.lookups !== null) out.push(...LOOKUP_POINTS);
    for (const r of this.o.roles) out.push(`pause.${r}`, `kill.${r}`);
    out.push(...(this.o.shim?.points() ?? []));
    return out;
  }

  /**
   * libfiu fails calls but cannot slow them: a statement's delay of a queue.* point stops the
   * process that owns the queue for that long instead, from now (a stalled disk, as a client
   * sees it). Its own point, so `monkey clear queue.*` leaves it to run out.
   */
  delayInstead(point: string, ms: number): [string, Record<string, unknown>] | null {
    const role = this.o.stallRole ?? null;
    const byLibfiu = this.o.fiu !== null && Object.keys(this.o.fiu.points).includes(point);
    if (role === null && byLibfiu && point.startsWith("queue.")) {
      throw new StatementError(
        `cannot delay ${point} on ${this.o.target.name}: libfiu fails calls but cannot slow them, and this target has no stall role to pause instead ` +
          "(a process that owns the queue alone: a target file's stallRole:); delay sys.ROLE.write or fail the call instead",
      );
    }
    if (role === null || !point.startsWith("queue.") || !this.decidedInside().includes(point)) return null;
    return [`pause.${role.toLowerCase()}`, { once: true, duration: `${ms}ms`, interval: "10ms" }];
  }

  /** libfiu and the seccomp supervisor decide inside the MTA, for no session: sessions are charged by the firings' times. */
  decidedInside(): string[] {
    return [...(this.o.fiu === null ? [] : Object.keys(this.o.fiu.points)), ...(this.o.shim?.points() ?? [])];
  }

  /** The plan's libfiu points; throws FiuError for one libfiu cannot carry out. */
  fiuSpecs(injector: Injector): FaultSpec[] {
    if (this.o.fiu === null) return [];
    const { scope, points } = this.o.fiu;
    const specs = injector.specs().filter((s) => points[s.name] !== undefined);
    for (const s of specs) fiuCommands(s, scope, points);
    return specs;
  }

  /** Follows the injector's plan. libfiu settings live in the MTA's processes: after a target
   * restart, call apply() again. Throws FiuError (nothing changed) for settings libfiu lacks. */
  async apply(injector: Injector): Promise<void> {
    // Validate everything before changing anything.
    const fiuSpecs = this.fiuSpecs(injector);
    const shimSpecs = injector.specs().filter((s) => this.o.shim?.owns(s.name) === true);
    this.o.shim?.rules(shimSpecs);
    this.cancelTimers();
    this.injector = injector;
    this.o.lookups?.setInjector(injector);
    await this.restartProcessFaults(injector);
    this.watchLog();
    if (this.o.fiu === null && (this.o.shim ?? null) === null) return;
    // libfiu and the shim cannot see the injector's windows: follow them with timers.
    const on = (): Promise<void> => this.setInside(fiuSpecs, shimSpecs);
    const off = (): Promise<void> => this.setInside([], []);
    const w = injector.currentPlan().windows;
    const t = injector.elapsed();
    const untilFaults = w.cleanMs - t;
    const faultsEnd = w.faultsMs === null ? null : w.cleanMs + w.faultsMs - t;
    if (faultsEnd !== null && faultsEnd <= 0) return off();
    if (untilFaults > 0) {
      await off();
      this.timers.push(setTimeout(() => void on().catch((err: unknown) => this.failed("switching the faults inside the target on", err)), untilFaults));
    } else await on();
    if (faultsEnd !== null) this.timers.push(setTimeout(() => void off().catch((err: unknown) => this.failed("switching the faults inside the target off", err)), faultsEnd));
  }

  private async setInside(fiuSpecs: FaultSpec[], shimSpecs: FaultSpec[]): Promise<void> {
    await this.setFiu(fiuSpecs);
    this.setShim(shimSpecs);
  }

  private setShim(specs: FaultSpec[]): void {
    const shim = this.o.shim ?? null;
    if (shim === null || this.injector === null) return;
    if (specs.length === 0 && shim.armed.length === 0) return;
    shim.set(this.injector.seed, specs);
    if (specs.length > 0 && this.collector === null) {
      const injector = this.injector;
      this.collector = setInterval(() => {
        try {
          shim.collect(injector);
        } catch (err) {
          this.failed("reading the syscall shim's firings", err);
        }
      }, SHIM_COLLECT_MS);
      this.collector.unref();
    }
  }

  private stopCollector(): void {
    if (this.collector !== null) clearInterval(this.collector);
    this.collector = null;
    if (this.injector !== null) this.o.shim?.collect(this.injector);
  }

  /** What went wrong when a window switched libfiu (a timer has no caller to throw to). */
  readonly problems: string[] = [];

  private failed(what: string, err: unknown): void {
    // e.g. a libfiu control thread that cannot answer because its process is paused
    if (this.problems.length < 20) this.problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }

  private async setFiu(specs: FaultSpec[]): Promise<void> {
    const fiu = this.o.fiu;
    if (fiu === null) return;
    this.fiuActive = specs;
    for (const sp of specs) this.fiuPlanned.add(sp.name);
    await fiu.set(specs.flatMap((s) => fiuCommands(s, fiu.scope, fiu.points)));
  }

  private async restartProcessFaults(injector: Injector): Promise<void> {
    await this.processFaults?.stop();
    this.processFaults = null;
    const roles = new Set(this.o.roles.map((r) => r.toLowerCase()));
    const specs = injector.specs().filter((s) => (s.family === "pause" || s.family === "kill") && roles.has(s.name.slice(s.name.indexOf(".") + 1).toLowerCase()));
    this.processHits.plan(specs.map((sp) => sp.name));
    if (specs.length === 0) return;
    const pf = new ProcessFaults({
      injector,
      processes: () => this.o.target.processes(),
      ports: () => smtpPorts(this.o.target),
      only: specs.map((s) => s.name),
      hits: this.processHits,
      expectDeath: (pid) => this.o.target.expectDeath?.(pid),
      ...(this.o.onProcessEvent !== undefined ? { onEvent: this.o.onProcessEvent } : {}),
    });
    await pf.start();
    this.processFaults = pf;
  }

  /** The process fault layer of the current plan (events, tickNow), if the plan has such points. */
  get processes(): ProcessFaults | null {
    return this.processFaults;
  }

  private cancelTimers(): void {
    for (const t of this.timers.splice(0)) clearTimeout(t);
  }

  /**
   * Counts libfiu faults the MTA reported in its log (a line with the pinned errno's text), by
   * the call it names; a line naming no known call counts for the only active point, if there is
   * one. A lower bound: faults the MTA handled silently are not seen.
   */
  private watchLog(): void {
    if (this.unsubscribeLog !== null || this.o.fiu === null) return;
    try {
      this.unsubscribeLog = this.o.target.onLog((line) => this.countLine(line));
    } catch {
      // not started yet: nothing to count
    }
  }

  private countLine(line: string): void {
    if (this.fiuActive.length === 0) return;
    const texts = new Set(this.fiuActive.map((s) => ERRNO_TEXT[s.errno ?? 5]).filter((x) => x !== undefined));
    if (![...texts].some((t) => line.includes(t))) return;
    const active = new Set(this.fiuActive.map((s) => s.name));
    let point: string | null = null;
    const wording: ReadonlyArray<[RegExp, string]> = [...(this.o.fiu?.logged ?? []).map((l): [RegExp, string] => [l.pattern, l.point]), ...LOGGED_CALL];
    for (const [re, p] of wording) {
      if (re.test(line) && active.has(p)) {
        point = p;
        break;
      }
    }
    if (point === null && active.size === 1) point = [...active][0] as string;
    if (point === null) return;
    this.fired.set(point, (this.fired.get(point) ?? 0) + 1);
    this.fiuTotal.set(point, (this.fiuTotal.get(point) ?? 0) + 1);
    // charged to the sessions of its time, like the mechanisms that keep their own record
    this.injector?.recordInside({ at: Date.now(), point, call: 0, action: "error" });
  }

  reach(): Record<string, ReachInfo> {
    const out: Record<string, ReachInfo> = {};
    for (const p of this.fiuPlanned) {
      const n = this.fiuTotal.get(p) ?? 0;
      out[p] = {
        mechanism: "libfiu",
        fired: n,
        estimate: true,
        ...(n === 0 ? { reason: "libfiu keeps no count of its own, and the MTA logged no call failing with the errno's text: not known to have fired" } : {}),
      };
    }
    Object.assign(out, this.processHits.reach(), this.o.shim?.reach() ?? {});
    return out;
  }

  /** A sweep's discovery: every call the syscall supervisor traps, by role, call and call site. */
  get profile(): (() => () => CallProfile) | undefined {
    const shim = this.o.shim ?? null;
    if (shim === null) return undefined;
    return () => {
      shim.startProfile(this.injector?.seed ?? 0);
      return () => shim.stopProfile();
    };
  }

  async drainFired(): Promise<Map<string, number>> {
    const out = new Map(this.fired);
    this.fired.clear();
    const shim = this.o.shim ?? null;
    if (shim !== null && this.injector !== null) {
      for (const [p, n] of shim.drain(this.injector)) out.set(p, (out.get(p) ?? 0) + n);
      for (const note of shim.notes()) if (!this.problems.includes(`the syscall shim: ${note}`)) this.failed("the syscall shim", note);
    }
    return out;
  }

  async clear(): Promise<void> {
    this.cancelTimers();
    this.setShim([]);
    this.stopCollector();
    this.o.lookups?.setInjector(null);
    await this.processFaults?.stop();
    this.processFaults = null;
    if (this.o.fiu !== null && this.fiuActive.length > 0) {
      this.fiuActive = [];
      await this.o.fiu.set([]);
    }
  }

  /**
   * The target is going away: stop the timers, lookups and process faults (paused processes are
   * resumed) and the log subscription. libfiu is left as it is: its processes are about to end,
   * and their control pipes may no longer answer.
   */
  async close(): Promise<void> {
    this.cancelTimers();
    this.stopCollector();
    this.o.lookups?.setInjector(null);
    await this.processFaults?.stop();
    this.processFaults = null;
    this.fiuActive = [];
    this.unsubscribeLog?.();
    this.unsubscribeLog = null;
  }
}

export { FiuError };
