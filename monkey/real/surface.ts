// A real MTA's fault surface: libfiu points (decided inside the MTA), lookup points (decided by
// the injector in our process, through the target's socketmap server) and process points
// (pause.<role>/kill.<role>, through ProcessFaults). The MTA-specific part is how libfiu
// commands reach the processes (FiuChannel).
import type { Target } from "../../targets/target.js";
import type { LoggedFault } from "../../targets/fault-hooks.js";
import type { Injector } from "../injector.js";
import type { FaultSpec } from "../plan.js";
import type { FaultSurface } from "../surface.js";
import { ProcessFaults, type ProcessFaultEvent } from "../layers/process.js";
import { FiuError, fiuCommands, type FiuStackScope } from "./libfiu.js";
import { LOOKUP_POINTS, type TargetLookups } from "./lookups.js";

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
  /** roles that process faults may address (pause.<role>, kill.<role>) */
  roles: readonly string[];
  /** the role that owns the queue alone: stopped to delay queue.* calls (null: none does) */
  stallRole?: string | null;
  onProcessEvent?: (e: ProcessFaultEvent) => void;
}

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
  private unsubscribeLog: (() => void) | null = null;

  constructor(private readonly o: RealSurfaceOptions) {}

  points(): string[] {
    const out: string[] = [];
    if (this.o.fiu !== null) out.push(...Object.keys(this.o.fiu.points));
    if (this.o.lookups !== null) out.push(...LOOKUP_POINTS);
    for (const r of this.o.roles) out.push(`pause.${r}`, `kill.${r}`);
    return out;
  }

  /**
   * libfiu fails calls but cannot slow them: a statement's delay of a queue.* point stops the
   * process that owns the queue for that long instead, from now (a stalled disk, as a client
   * sees it). Its own point, so `monkey clear queue.*` leaves it to run out.
   */
  delayInstead(point: string, ms: number): [string, Record<string, unknown>] | null {
    const role = this.o.stallRole ?? null;
    if (role === null || !point.startsWith("queue.") || !this.decidedInside().includes(point)) return null;
    return [`pause.${role.toLowerCase()}`, { once: true, duration: `${ms}ms`, interval: "10ms" }];
  }

  /** libfiu draws its own random numbers inside the MTA: the runner attributes these by time. */
  decidedInside(): string[] {
    return this.o.fiu === null ? [] : Object.keys(this.o.fiu.points);
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
    this.cancelTimers();
    this.o.lookups?.setInjector(injector);
    await this.restartProcessFaults(injector);
    this.watchLog();
    if (this.o.fiu === null) return;
    // libfiu cannot see the injector's windows: follow them with timers.
    const w = injector.currentPlan().windows;
    const t = injector.elapsed();
    const untilFaults = w.cleanMs - t;
    const faultsEnd = w.faultsMs === null ? null : w.cleanMs + w.faultsMs - t;
    if (faultsEnd !== null && faultsEnd <= 0) return this.setFiu([]);
    if (untilFaults > 0) {
      await this.setFiu([]);
      this.timers.push(setTimeout(() => void this.setFiu(fiuSpecs).catch((err: unknown) => this.failed("switching libfiu on", err)), untilFaults));
    } else await this.setFiu(fiuSpecs);
    if (faultsEnd !== null) this.timers.push(setTimeout(() => void this.setFiu([]).catch((err: unknown) => this.failed("switching libfiu off", err)), faultsEnd));
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
    await fiu.set(specs.flatMap((s) => fiuCommands(s, fiu.scope, fiu.points)));
  }

  private async restartProcessFaults(injector: Injector): Promise<void> {
    await this.processFaults?.stop();
    this.processFaults = null;
    const roles = new Set(this.o.roles.map((r) => r.toLowerCase()));
    const specs = injector.specs().filter((s) => (s.family === "pause" || s.family === "kill") && roles.has(s.name.slice(s.name.indexOf(".") + 1).toLowerCase()));
    if (specs.length === 0) return;
    const pf = new ProcessFaults({
      injector,
      processes: () => this.o.target.processes(),
      only: specs.map((s) => s.name),
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
    if (point !== null) this.fired.set(point, (this.fired.get(point) ?? 0) + 1);
  }

  async drainFired(): Promise<Map<string, number>> {
    const out = new Map(this.fired);
    this.fired.clear();
    return out;
  }

  async clear(): Promise<void> {
    this.cancelTimers();
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
    this.o.lookups?.setInjector(null);
    await this.processFaults?.stop();
    this.processFaults = null;
    this.fiuActive = [];
    this.unsubscribeLog?.();
    this.unsubscribeLog = null;
  }
}

export { FiuError };
