// What happened when, once a second: session outcomes, faults fired per point and messages
// accepted, each as the count in that interval, with the plan's window. Bounded: past 3,600
// points neighbours merge and the step doubles, so a run of hours keeps a few thousand points.
import type { JudgedOutcome } from "./oracle.js";

export interface TimelinePoint {
  /** seconds since the run started (the start of the interval) */
  t: number;
  window: string;
  outcomes: Partial<Record<JudgedOutcome, number>>;
  fired: Record<string, number>;
  accepted: number;
}

export interface RunTimeline {
  /** seconds per point */
  step: number;
  points: TimelinePoint[];
}

const MAX_POINTS = 3600;

export class TimelineRecorder {
  private readonly points: TimelinePoint[] = [];
  private step = 1;
  private last: { outcomes: Record<string, number>; fired: Record<string, number>; accepted: number } = { outcomes: {}, fired: {}, accepted: 0 };

  /** Totals so far; the point gets what changed since the last sample. */
  sample(t: number, window: string, outcomes: Readonly<Record<string, number>>, fired: Readonly<Record<string, number>>, accepted: number): void {
    const delta = (now: Readonly<Record<string, number>>, before: Record<string, number>): Record<string, number> =>
      Object.fromEntries(Object.entries(now).flatMap(([k, v]) => (v - (before[k] ?? 0) > 0 ? [[k, v - (before[k] ?? 0)]] : [])));
    const prev = this.points.at(-1);
    const point: TimelinePoint = { t, window, outcomes: delta(outcomes, this.last.outcomes), fired: delta(fired, this.last.fired), accepted: accepted - this.last.accepted };
    this.last = { outcomes: { ...outcomes }, fired: { ...fired }, accepted };
    if (prev !== undefined && t - prev.t < this.step) add(prev, point);
    else this.points.push(point);
    if (this.points.length > MAX_POINTS) this.coarsen();
  }

  result(): RunTimeline {
    return { step: this.step, points: this.points };
  }

  private coarsen(): void {
    this.step *= 2;
    const merged: TimelinePoint[] = [];
    for (const p of this.points) {
      const head = merged.at(-1);
      if (head !== undefined && p.t - head.t < this.step) add(head, p);
      else merged.push(p);
    }
    this.points.splice(0, this.points.length, ...merged);
  }
}

function add(into: TimelinePoint, p: TimelinePoint): void {
  for (const [k, v] of Object.entries(p.outcomes)) into.outcomes[k as JudgedOutcome] = (into.outcomes[k as JudgedOutcome] ?? 0) + (v ?? 0);
  for (const [k, v] of Object.entries(p.fired)) into.fired[k] = (into.fired[k] ?? 0) + v;
  into.accepted += p.accepted;
  // a window that changed within the interval: the later one (the faults' start or end shows)
  into.window = p.window;
}
