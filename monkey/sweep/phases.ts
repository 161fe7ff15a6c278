// The SMTP phases a fault sweep tells apart, and when each was in flight. A phase opens when the
// client is about to send the command that starts it (the engine's `before` hook, right after the
// reply that ended the previous one) and lasts until the next opens: calls the MTA makes between
// a reply and the next command belong to the command that follows, the one they can affect.
import type { Step } from "../../smtp/index.js";

export const SWEEP_PHASES = ["connect", "banner", "ehlo", "mail", "rcpt", "data", "dot", "after-250", "delivery"] as const;
export type SweepPhase = (typeof SWEEP_PHASES)[number];

/** The engine step whose command opens a phase; "delivery" opens when the session is over. */
const BY_STEP: Partial<Record<Step, SweepPhase>> = { connect: "connect", banner: "banner", ehlo: "ehlo", mail: "mail", rcpt: "rcpt", data: "data", dot: "dot", quit: "after-250" };

export function phaseOfStep(step: Step): SweepPhase | null {
  return BY_STEP[step] ?? null;
}

export function isSweepPhase(s: string): s is SweepPhase {
  return (SWEEP_PHASES as readonly string[]).includes(s);
}

/**
 * Now, in ms since the epoch with sub-millisecond precision: a fast MTA answers RCPT and DATA
 * within the same millisecond, and a call must still fall in the right one.
 */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The phases of one sweep transaction, by time (ms since the epoch, sub-millisecond). */
export class PhaseTimeline {
  private readonly starts: Array<{ phase: SweepPhase; at: number }> = [];
  private endAt: number | null = null;

  enter(phase: SweepPhase, at = preciseNow()): void {
    if (this.starts[this.starts.length - 1]?.phase !== phase) this.starts.push({ phase, at });
  }

  end(at = preciseNow()): void {
    this.endAt = at;
  }

  get startedAt(): number | null {
    return this.starts[0]?.at ?? null;
  }

  /** The phase in flight at `t`, or null outside the transaction. */
  phaseAt(t: number): SweepPhase | null {
    const first = this.starts[0];
    if (first === undefined || t < first.at || (this.endAt !== null && t > this.endAt)) return null;
    let hit: SweepPhase = first.phase;
    for (const s of this.starts) {
      if (s.at > t) break;
      hit = s.phase;
    }
    return hit;
  }

  phases(): SweepPhase[] {
    return this.starts.map((s) => s.phase);
  }
}
