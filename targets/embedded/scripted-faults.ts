// Fault points of the embedded MTA driven by smtpscript `monkey` statements:
//   monkey fail POINT [once | always | times N]     the next (N) operations at POINT fail (EIO)
//   monkey delay POINT DURATION [once | always]     they are delayed
//   monkey clear [POINT]
import { parseDuration } from "../../common/duration.js";
import { FAULT_POINTS, InjectedFault } from "./fault-points.js";
import type { FaultPointName, FaultPoints } from "./fault-points.js";

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
    const [verb, point, ...rest] = args;
    if (verb === "clear") {
      if (point === undefined) this.rules.clear();
      else this.rules.delete(this.point(point));
      return;
    }
    if (verb !== "fail" && verb !== "delay") throw new Error(`monkey: unknown action "${verb ?? ""}" (fail, delay, clear)`);
    if (point === undefined) throw new Error(`monkey ${verb}: which fault point? (${FAULT_POINTS.join(", ")})`);
    const name = this.point(point);
    let delayMs = 0;
    if (verb === "delay") {
      const d = parseDuration(rest.shift() ?? "");
      if (d === null) throw new Error("monkey delay: expected a duration such as 500ms after the point");
      delayMs = d;
    }
    const mode = rest.join(" ") || "once";
    let remaining: number;
    if (mode === "once") remaining = 1;
    else if (mode === "always") remaining = Infinity;
    else {
      const m = /^times (\d+)$/.exec(mode);
      if (m === null) throw new Error(`monkey ${verb}: expected once, always or "times N", got "${mode}"`);
      remaining = Number(m[1]);
    }
    this.rules.set(name, { action: verb, remaining, delayMs });
  }

  clear(): void {
    this.rules.clear();
  }

  private point(p: string): FaultPointName {
    if (!(FAULT_POINTS as readonly string[]).includes(p)) throw new Error(`monkey: unknown fault point "${p}" (${FAULT_POINTS.join(", ")})`);
    return p as FaultPointName;
  }
}
