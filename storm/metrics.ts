// Everything a storm measures: per-phase latency histograms, reply codes per phase, session
// outcomes (an error taxonomy), and per-second timelines of throughput and concurrency.
import { Histogram } from "./histogram.js";

export const PHASES = ["connect", "banner", "ehlo", "tls", "mail", "rcpt", "data", "dot"] as const;
export type Phase = (typeof PHASES)[number];

/**
 * How a session ended. ok: every transaction accepted; tempfail/permfail: the server refused
 * with 4xx/5xx (graceful); aborted: the client dropped it on purpose (mix kinds abort-*);
 * refused/reset/closed/timeout/tls/protocol: the server broke the session.
 */
export const OUTCOMES = ["ok", "tempfail", "permfail", "aborted", "refused", "reset", "closed", "timeout", "tls", "protocol"] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Outcomes that mean the server failed without a proper SMTP reply. */
export const UNGRACEFUL: readonly Outcome[] = ["refused", "reset", "closed", "timeout", "tls", "protocol"];

export interface TimelinePoint {
  /** seconds since the start */
  t: number;
  started: number;
  completed: number;
  accepted: number;
  errors: number;
  concurrency: number;
}

export class Metrics {
  readonly phases = new Map<Phase, Histogram>(PHASES.map((p) => [p, new Histogram()]));
  /** "phase code" -> count, e.g. "rcpt 451" */
  readonly codes = new Map<string, number>();
  readonly outcomes = new Map<Outcome, number>(OUTCOMES.map((o) => [o, 0]));
  /** sessions that ran to an outcome */
  sessions = 0;
  started = 0;
  /** messages acknowledged with 250 after the final dot */
  accepted = 0;
  inFlight = 0;
  maxConcurrency = 0;
  readonly timeline: TimelinePoint[] = [];
  private tick = { started: 0, completed: 0, accepted: 0, errors: 0 };

  phase(p: Phase, ms: number): void {
    (this.phases.get(p) as Histogram).recordMs(ms);
  }

  code(p: Phase, code: number): void {
    const k = `${p} ${code}`;
    this.codes.set(k, (this.codes.get(k) ?? 0) + 1);
  }

  sessionStarted(): void {
    this.started++;
    this.inFlight++;
    this.tick.started++;
    if (this.inFlight > this.maxConcurrency) this.maxConcurrency = this.inFlight;
  }

  sessionEnded(outcome: Outcome, accepted: number): void {
    this.inFlight--;
    this.sessions++;
    this.accepted += accepted;
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    this.tick.completed++;
    this.tick.accepted += accepted;
    if (UNGRACEFUL.includes(outcome)) this.tick.errors++;
  }

  /** Closes the current one-second bucket of the timeline. */
  sample(t: number): TimelinePoint {
    const point = { t, ...this.tick, concurrency: this.inFlight };
    this.timeline.push(point);
    this.tick = { started: 0, completed: 0, accepted: 0, errors: 0 };
    return point;
  }

  count(o: Outcome): number {
    return this.outcomes.get(o) ?? 0;
  }

  ungraceful(): number {
    return UNGRACEFUL.reduce((a, o) => a + this.count(o), 0);
  }
}
