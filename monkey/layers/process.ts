// Process faults: SIGSTOP/SIGCONT pauses and SIGKILL of one role of the target (OpenSMTPD's
// queue, Postfix's cleanup...). Time-driven: every `interval` of a pause.<role>/kill.<role>
// point the injector decides. PIDs come from target.processes() at each tick, so respawned
// processes are found. Every paused process is resumed on stop(), whatever happened.
import type { RoleProcess, Target } from "../../targets/target.js";
import { servedPeers } from "../../targets/process/procfs.js";
import type { Injector } from "../injector.js";
import { Stream } from "../../common/rng.js";
import type { FaultSpec } from "../plan.js";
import type { FaultLayer } from "./layer.js";
import type { ReachInfo } from "../reach.js";
import { StatementError } from "../statement.js";

export interface ProcessFaultEvent {
  at: number;
  point: string;
  action: "pause" | "resume" | "kill";
  role: string;
  pid: number;
  /** a pause's length */
  ms?: number;
  /** the signal could not be sent (process gone) */
  error?: string;
}

/**
 * How long after a paused role resumes, or a killed one has a process again, failures are still
 * charged to that fault: the MTA's clients and internal channels reconnect (documented).
 */
export const PROCESS_SETTLE_MS = 2_000;
/** how long a killed role may take to respawn before its effect is capped (a role that never comes back is a crash) */
const RESPAWN_WAIT_MS = 30_000;

/**
 * Processes each pause/kill point signalled, kept by the owner of the process faults across plan
 * changes (each plan gets a ProcessFaults of its own), and the reach they add up to.
 */
export class ProcessHits {
  private readonly planned = new Set<string>();
  private readonly hits = new Map<string, number>();

  plan(points: Iterable<string>): void {
    for (const p of points) this.planned.add(p);
  }

  /** a pause or kill that was sent counts; a resume, a refusal or a failed signal does not */
  count(e: ProcessFaultEvent): void {
    if (e.action !== "resume" && e.error === undefined && e.pid > 0) this.hits.set(e.point, (this.hits.get(e.point) ?? 0) + 1);
  }

  byPoint(): Record<string, number> {
    return Object.fromEntries(this.hits);
  }

  reach(): Record<string, ReachInfo> {
    return Object.fromEntries(
      [...this.planned].map((p): [string, ReachInfo] => {
        const n = this.hits.get(p) ?? 0;
        return [p, { mechanism: "signals", processes: n, ...(n === 0 ? { reason: `no process of role ${roleOf(p)} was there when it fired` } : {}) }];
      }),
    );
  }
}

export interface ProcessFaultsOptions {
  injector: Injector;
  processes: () => Promise<RoleProcess[]>;
  /** injectable for tests */
  signal?: (pid: number, sig: NodeJS.Signals) => void;
  onEvent?: (e: ProcessFaultEvent) => void;
  /** tells the target a process is about to be killed by us (its master's log of that death is no crash) */
  expectDeath?: (pid: number) => void;
  /** remember at most this many events */
  maxEvents?: number;
  /** only these pause/kill points (another layer owns the rest); default: every one in the plan */
  only?: readonly string[];
  /** the target's SMTP ports: the clients a paused or killed process was serving are read from them */
  ports?: () => readonly number[];
  /** where the processes hit are counted (the owner's, to keep them across plan changes); default: its own */
  hits?: ProcessHits;
}

/** The ports a target serves SMTP on (plain and implicit TLS): where a process's clients are found. */
export function smtpPorts(target: Target): number[] {
  const e = target.endpoint;
  return e.tlsPort === undefined ? [e.port] : [e.port, e.tlsPort];
}

/** The pause/kill points among `specs` that a fault surface does not schedule itself (`owned`). */
export function processPointsOf(specs: readonly FaultSpec[], owned: readonly string[]): string[] {
  return specs.filter((s) => (s.family === "pause" || s.family === "kill") && !owned.includes(s.name)).map((s) => s.name);
}

/**
 * Throws a StatementError (the control API answers 400; the plan is refused, not silently inert) for points whose role the
 * target has none of. An in-process target has no process of its own at all: killing "its"
 * process would kill the toolkit, so it offers none (kill.init included).
 */
export function refuseMissingRoles(points: readonly string[], procs: readonly RoleProcess[], target: string): void {
  const roles = procs.map((p) => p.role.toLowerCase());
  const missing = points.filter((p) => !roles.includes(roleOf(p)));
  if (missing.length === 0) return;
  const why =
    roles.length === 0
      ? `the ${target} target has no process of its own to pause or kill (the embedded target runs inside the monkey's process: signalling it would stop the toolkit)`
      : `${target} has no process with that role (roles: ${[...new Set(roles)].join(", ")})`;
  throw new StatementError(`${missing.join(", ")} refused: ${why}`);
}

/** "pause.pony express" -> "pony express"; role names compare case-insensitively. */
export function roleOf(point: string): string {
  return point.slice(point.indexOf(".") + 1).toLowerCase();
}

export class ProcessFaults implements FaultLayer {
  readonly name = "process";
  readonly events: ProcessFaultEvent[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly paused = new Map<number, NodeJS.Timeout>();
  private readonly hits: ProcessHits;
  private readonly signal: (pid: number, sig: NodeJS.Signals) => void;
  private running = false;

  constructor(private readonly opts: ProcessFaultsOptions) {
    this.signal = opts.signal ?? ((pid, sig) => process.kill(pid, sig));
    this.hits = opts.hits ?? new ProcessHits();
  }

  points(): string[] {
    return this.specs().map((s) => s.name);
  }

  private specs(): FaultSpec[] {
    const only = this.opts.only;
    return this.opts.injector.specs().filter((s) => (s.family === "pause" || s.family === "kill") && (only === undefined || only.includes(s.name)));
  }

  async start(): Promise<void> {
    this.running = true;
    for (const spec of this.specs()) {
      const t = setInterval(() => void this.tick(spec.name), spec.intervalMs ?? 1000);
      this.timers.push(t);
    }
  }

  private record(e: ProcessFaultEvent): void {
    this.hits.count(e);
    this.events.push(e);
    const max = this.opts.maxEvents ?? 1000;
    if (this.events.length > max) this.events.splice(0, this.events.length - max);
    this.opts.onEvent?.(e);
  }

  private send(pid: number, sig: NodeJS.Signals): string | undefined {
    try {
      this.signal(pid, sig);
      return undefined;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? String(err);
    }
  }

  /** One decision for a point; exported for tests through tickNow. */
  private async tick(point: string): Promise<void> {
    if (!this.running) return;
    const d = this.opts.injector.decide(point);
    if (d === null) return;
    const fired = this.opts.injector.lastFired(point);
    const role = roleOf(point);
    const action = d.action === "kill" ? "kill" : "pause";
    const all = (await this.opts.processes()).filter((p) => p.role.toLowerCase() === role);
    if (!this.running) return;
    // never this process, its parent, or init, whatever a target reports
    const refused = all.filter((p) => p.pid <= 1 || p.pid === process.pid || p.pid === process.ppid);
    for (const p of refused) this.record({ at: Date.now(), point, action, role, pid: p.pid, error: "refused: the toolkit's own process or init" });
    const candidates = all.filter((p) => !refused.includes(p) && !(action === "pause" && this.paused.has(p.pid))).sort((a, b) => a.pid - b.pid);
    if (candidates.length === 0) {
      if (all.length === 0) this.record({ at: Date.now(), point, action, role, pid: 0, error: "no process with this role" });
      // it reached nothing: not a firing, and no session is charged to it
      if (fired !== null) this.opts.injector.unfire(fired);
      return;
    }
    const spec = this.specs().find((s) => s.name === point);
    // one process of the role, drawn from the seed (the k-th decision picks the same index in every run), unless scope: all
    const pick = new Stream(this.opts.injector.seed, `${point}#process`).uniform(d.call, 0);
    const hit = spec?.scope === "all" ? candidates : [candidates[Math.floor(pick * candidates.length)] as RoleProcess];
    const ports = this.opts.ports?.() ?? [];
    const served = hit.flatMap((p) => ports.flatMap((port) => servedPeers(p.pid, port)));
    if (fired !== null && served.length > 0) fired.served = served;
    if (action === "kill") {
      for (const p of hit) {
        this.opts.expectDeath?.(p.pid);
        const error = this.send(p.pid, "SIGKILL");
        this.record({ at: Date.now(), point, action: "kill", role, pid: p.pid, ...(error ? { error } : {}) });
      }
      if (fired !== null) {
        fired.until = fired.at + RESPAWN_WAIT_MS;
        void this.untilServing(role, hit.map((p) => p.pid)).then((at) => {
          fired.until = at + PROCESS_SETTLE_MS;
        });
      }
      return;
    }
    const ms = d.durationMs ?? 1000;
    if (fired !== null) fired.until = fired.at + ms + PROCESS_SETTLE_MS;
    for (const p of hit) {
      const error = this.send(p.pid, "SIGSTOP");
      this.record({ at: Date.now(), point, action: "pause", role, pid: p.pid, ms, ...(error ? { error } : {}) });
      if (error) continue;
      this.paused.set(
        p.pid,
        setTimeout(() => this.resume(point, role, p.pid), ms),
      );
    }
  }

  /** When the role has a process again that was not killed (respawned), or the wait ran out. */
  private async untilServing(role: string, killed: readonly number[]): Promise<number> {
    const deadline = Date.now() + RESPAWN_WAIT_MS;
    while (this.running && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        const now = await this.opts.processes();
        if (now.some((p) => p.role.toLowerCase() === role && !killed.includes(p.pid))) return Date.now();
      } catch {
        // the target is gone (a crash): its own report takes over
        break;
      }
    }
    return Date.now();
  }

  /** Processes each point hit (pauses and kills that were sent), for the report. */
  processesHit(): Record<string, number> {
    return this.hits.byPoint();
  }

  /** Runs one decision of `point` now (tests, the control API). */
  async tickNow(point: string): Promise<void> {
    const was = this.running;
    this.running = true;
    try {
      await this.tick(point);
    } finally {
      this.running = was || this.running;
    }
  }

  private resume(point: string, role: string, pid: number): void {
    const t = this.paused.get(pid);
    if (t !== undefined) clearTimeout(t);
    this.paused.delete(pid);
    const error = this.send(pid, "SIGCONT");
    this.record({ at: Date.now(), point, action: "resume", role, pid, ...(error ? { error } : {}) });
  }

  pausedPids(): number[] {
    return [...this.paused.keys()];
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const pid of [...this.paused.keys()]) this.resume("(stop)", "", pid);
  }
}
