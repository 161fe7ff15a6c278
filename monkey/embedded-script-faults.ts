// Fault points of the embedded MTA (in-process) driven by smtpscript `monkey` statements:
//   monkey fail POINT [once | always | times N]     the next (N) operations at POINT fail (EIO)
//   monkey delay POINT DURATION [once | always]     they are delayed
//   monkey clear [POINT]
import { parseStatement } from "./statement.js";
import { FAULT_POINTS, InjectedFault } from "../targets/embedded/fault-points.js";
import type { FaultPointName, FaultPoints } from "../targets/embedded/fault-points.js";

type Rule = { action: "fail" | "delay"; remaining: number; delayMs: number };

export class ScriptedFaults implements FaultPoints {
  readonly points: readonly string[] = FAULT_POINTS;
  private readonly rules = new Map<FaultPointName, Rule>();
  /** how many faults fired, per point */
  readonly fired = new Map<FaultPointName, number>();

  async check(point: FaultPointName): Promise<void> {
    const rule = this.rules.get(point);
    if (rule === undefined || rule.remaining === 0) return;
    rule.remaining--;
    this.fired.set(point, (this.fired.get(point) ?? 0) + 1);
    if (rule.action === "delay") await new Promise((r) => setTimeout(r, rule.delayMs));
    else throw new InjectedFault(point, "EIO");
  }

  /** Applies one `monkey` statement; throws a message naming the problem for bad arguments. */
  apply(args: readonly string[]): void {
    const st = parseStatement(args);
    if (st.verb === "clear") {
      if (st.point === null) this.rules.clear();
      else this.rules.delete(this.point(st.point));
      return;
    }
    const remaining = st.times ?? Infinity;
    this.rules.set(this.point(st.point), { action: st.verb, remaining, delayMs: st.verb === "delay" ? st.delayMs : 0 });
  }

  clear(): void {
    this.rules.clear();
  }

  private point(p: string): FaultPointName {
    if (!(FAULT_POINTS as readonly string[]).includes(p)) throw new Error(`monkey: unknown fault point "${p}" (${FAULT_POINTS.join(", ")})`);
    return p as FaultPointName;
  }
}
