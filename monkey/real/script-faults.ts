// smtpscript `monkey` statements on a real MTA, through its fault surface:
//   monkey fail POINT [once | always | times N]   queue.* / alloc (libfiu, EIO), lookup.* (temp failure)
//   monkey delay POINT DURATION [once | always | times N]
//       lookup.*: the lookup answers late; queue.*: the process owning the queue (OpenSMTPD's
//       queue role) is stopped for DURATION from now (libfiu cannot delay a call)
//   monkey clear [POINT]
// Each statement rebuilds a small plan and applies it. libfiu decides inside the MTA, so "times N"
// (N > 1) is refused for libfiu points, with the reason.
import { parseStatement, statementSettings, StatementError } from "../statement.js";
import type { ScriptFaults } from "../../smtpscript/runner.js";
import type { Target } from "../../targets/target.js";
import { Injector } from "../injector.js";
import { validatePlan } from "../plan.js";
import type { RealFaultSurface } from "./surface.js";

export interface RealScriptFaultsOptions {
  surface: RealFaultSurface;
  target: Target;
  /** role stopped for `monkey delay queue.* D`; null: not supported on this target */
  stallRole: string | null;
}

export class RealScriptFaults implements ScriptFaults {
  private readonly rules = new Map<string, Record<string, unknown>>();
  private readonly stalled = new Map<number, NodeJS.Timeout>();

  constructor(private readonly o: RealScriptFaultsOptions) {}

  get points(): readonly string[] {
    return this.o.surface.points();
  }

  async apply(args: readonly string[]): Promise<void> {
    const st = parseStatement(args);
    if (st.verb === "clear") {
      if (st.point === null) this.rules.clear();
      else this.rules.delete(st.point);
      return this.sync();
    }
    const point = st.point;
    if (!this.points.includes(point)) throw new StatementError(`monkey ${st.verb}: unknown fault point "${point}" (${this.points.join(", ")})`);
    if (st.verb === "delay" && !point.startsWith("lookup.")) return this.stall(point, st.delayMs);
    this.rules.set(point, statementSettings(st));
    try {
      await this.sync();
    } catch (err) {
      this.rules.delete(point);
      await this.sync();
      throw err;
    }
  }

  private async sync(): Promise<void> {
    const plan = validatePlan({ points: Object.fromEntries(this.rules) }, "monkey statements");
    await this.o.surface.apply(new Injector({ plan, seed: 0 }));
  }

  /** SIGSTOP the queue's process for ms, now: what a stalled disk looks like to a client. */
  private async stall(point: string, ms: number): Promise<void> {
    const role = this.o.stallRole;
    if (role === null || !point.startsWith("queue.")) throw new Error(`monkey delay ${point}: this target cannot delay ${point} (libfiu fails calls, it cannot slow them)`);
    const procs = (await this.o.target.processes()).filter((p) => p.role === role);
    if (procs.length === 0) throw new Error(`monkey delay ${point}: no ${role} process to stall`);
    for (const p of procs) {
      process.kill(p.pid, "SIGSTOP");
      this.stalled.set(p.pid, setTimeout(() => this.resume(p.pid), ms));
    }
  }

  private resume(pid: number): void {
    const t = this.stalled.get(pid);
    if (t !== undefined) clearTimeout(t);
    this.stalled.delete(pid);
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // the process is gone: nothing to resume
    }
  }

  /** Ends every fault; a target the faults crashed is restarted so later test-cases find it up. */
  async clear(): Promise<void> {
    for (const pid of [...this.stalled.keys()]) this.resume(pid);
    this.rules.clear();
    await this.o.surface.clear();
    if (this.o.target.crash() !== null) await this.o.target.restart();
  }
}
