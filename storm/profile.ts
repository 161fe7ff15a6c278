// Load over time: a constant level or k6-style stages ("10s:100,30s:1000,10s:0": ramp linearly
// from the previous level, starting at 0, to each target over each duration). The level is a
// session count (closed loop) or an arrival rate per second (open loop).
import { UserError } from "../common/errors.js";
import { parseDuration } from "../common/duration.js";

export interface Stage {
  durationMs: number;
  target: number;
}

/** Shown on one line: text from a mix file or a flag comes out with its control characters escaped. */
export class StagesError extends UserError {}

export function parseStages(text: string): Stage[] {
  const stages = text.split(",").map((part) => {
    const m = /^\s*([^:]+):\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    const d = m === null ? null : parseDuration((m[1] ?? "").trim());
    if (m === null || d === null || d <= 0) throw new StagesError(`--stages: "${part.trim()}" is not DURATION:TARGET (e.g. "10s:100,30s:1000,10s:0")`);
    return { durationMs: d, target: Number(m[2]) };
  });
  if (stages.length === 0) throw new StagesError("--stages: no stage given");
  return stages;
}

export class Profile {
  /** segment start times (ms) and levels at each segment boundary */
  private readonly starts: number[] = [];
  private readonly levels: number[] = [0];
  /** cumulative integral (level x seconds) at each segment start */
  private readonly areas: number[] = [0];
  /** when the last stage ends; Infinity for a constant level */
  readonly totalMs: number;

  constructor(private readonly stages: readonly Stage[] | null, private readonly constant = 0) {
    let t = 0;
    for (const s of stages ?? []) {
      const from = this.levels[this.levels.length - 1] as number;
      this.starts.push(t);
      this.areas.push((this.areas[this.areas.length - 1] as number) + ((from + s.target) / 2) * (s.durationMs / 1000));
      this.levels.push(s.target);
      t += s.durationMs;
    }
    this.totalMs = stages === null ? Infinity : t;
  }

  /** The highest level any stage reaches (for fd checks). */
  get peak(): number {
    return this.stages === null ? this.constant : Math.max(...this.levels);
  }

  level(tMs: number): number {
    if (this.stages === null) return this.constant;
    for (let i = 0; i < this.stages.length; i++) {
      const s = this.stages[i] as Stage;
      const start = this.starts[i] as number;
      if (tMs < start + s.durationMs) {
        const from = this.levels[i] as number;
        return from + ((s.target - from) * (tMs - start)) / s.durationMs;
      }
    }
    return 0;
  }

  /** Expected arrivals in [0, t] for a rate profile (level = arrivals per second). */
  cumulative(tMs: number): number {
    if (this.stages === null) return (this.constant * tMs) / 1000;
    for (let i = 0; i < this.stages.length; i++) {
      const s = this.stages[i] as Stage;
      const start = this.starts[i] as number;
      if (tMs < start + s.durationMs) {
        const from = this.levels[i] as number;
        const dt = Math.max(0, tMs - start);
        const at = from + ((s.target - from) * dt) / s.durationMs;
        return (this.areas[i] as number) + ((from + at) / 2) * (dt / 1000);
      }
    }
    return this.areas[this.areas.length - 1] as number;
  }

  /** When arrival number j (0-based) is due, ms from the start: the time the cumulative count reaches j. */
  arrivalTime(j: number): number {
    if (this.stages === null) return this.constant > 0 ? (j * 1000) / this.constant : Infinity;
    if (j > this.cumulative(this.totalMs)) return Infinity;
    let lo = 0;
    let hi = this.totalMs;
    for (let k = 0; k < 40 && hi - lo > 0.01; k++) {
      const mid = (lo + hi) / 2;
      if (this.cumulative(mid) >= j) hi = mid;
      else lo = mid;
    }
    return hi;
  }
}
