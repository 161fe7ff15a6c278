// Everything a storm measures: per-phase latency histograms, reply codes per phase, session
// outcomes (an error taxonomy), and per-second timelines of throughput and concurrency.
import { Histogram } from "./histogram.js";
import { OUTCOMES as WIRE_OUTCOMES, UNGRACEFUL as WIRE_UNGRACEFUL } from "../smtp/index.js";
import type { Outcome as WireOutcome, Step } from "../smtp/index.js";

/**
 * Per-phase latencies. The wire-level kinds time each command; the well-behaved (nodemailer)
 * client reports "handshake" (connect to ready: banner, EHLO, STARTTLS, EHLO) and "envelope"
 * (MAIL to 354) instead. "session" is the whole session, measured from its *scheduled* start in
 * open-loop runs so a stalled generator or server cannot hide latency (coordinated omission).
 */
const TIMED_STEPS = ["connect", "banner", "ehlo", "tls", "mail", "rcpt", "data", "dot", "garbage"] as const satisfies readonly Step[];
export const PHASES = [...TIMED_STEPS, "handshake", "envelope", "session"] as const;
export type Phase = (typeof PHASES)[number];

/**
 * The wire layer's outcomes, and one of the storm's own: "overdue", a session still running at
 * its hard deadline (the end of --duration plus --timeout, or a second Ctrl-C), abandoned and
 * counted as such whatever its client library was doing. It counts as ungraceful: nobody saw it end.
 */
export const OUTCOMES = [...WIRE_OUTCOMES, "overdue"] as const;
export type Outcome = WireOutcome | "overdue";
export const UNGRACEFUL: readonly Outcome[] = [...WIRE_UNGRACEFUL, "overdue"];

export interface TimelinePoint {
  /** seconds since the start */
  t: number;
  started: number;
  completed: number;
  accepted: number;
  errors: number;
  concurrency: number;
  /** sessions idling in the "hold" kind at the end of the second (absent in parts of before 0.2) */
  holding?: number;
  /** open loop: arrivals dropped this second because the in-flight cap was reached */
  dropped: number;
}

export class Metrics {
  readonly phases = new Map<Phase, Histogram>(PHASES.map((p) => [p, new Histogram()]));
  /** "phase code" -> count, e.g. "rcpt 451" */
  readonly codes = new Map<string, number>();
  /** "phase enhanced-code" -> count, e.g. "rcpt 4.7.1" (RFC 3463, when the server sends them) */
  readonly enhanced = new Map<string, number>();
  /** how sessions connected: "ipv4", "ipv6", "plain", "starttls", "implicit-tls", and "...-unavailable" fallbacks */
  readonly transports = new Map<string, number>();
  /** session kind -> sessions started */
  readonly kinds = new Map<string, number>();
  /** open loop: arrivals not started because the in-flight cap was reached */
  dropped = 0;
  /** sessions idling in the "hold" kind right now, and the most at once */
  holding = 0;
  maxHolding = 0;
  readonly outcomes = new Map<Outcome, number>(OUTCOMES.map((o) => [o, 0]));
  /** sessions that ran to an outcome */
  sessions = 0;
  started = 0;
  /** messages acknowledged with 250 after the final dot */
  accepted = 0;
  inFlight = 0;
  maxConcurrency = 0;
  readonly timeline: TimelinePoint[] = [];
  private tick = { started: 0, completed: 0, accepted: 0, errors: 0, dropped: 0 };

  phase(p: Phase, ms: number): void {
    (this.phases.get(p) as Histogram).recordMs(ms);
  }

  code(p: Phase, code: number, enhanced?: { text: string } | null): void {
    bump(this.codes, `${p} ${code}`);
    if (enhanced !== undefined && enhanced !== null) bump(this.enhanced, `${p} ${enhanced.text}`);
  }

  transport(what: string): void {
    bump(this.transports, what);
  }

  kind(k: string): void {
    bump(this.kinds, k);
  }

  drop(): void {
    this.dropped++;
    this.tick.dropped++;
  }

  holdStarted(): void {
    this.holding++;
    if (this.holding > this.maxHolding) this.maxHolding = this.holding;
  }

  holdEnded(): void {
    this.holding--;
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
    const point = { t, ...this.tick, concurrency: this.inFlight, holding: this.holding };
    this.timeline.push(point);
    this.tick = { started: 0, completed: 0, accepted: 0, errors: 0, dropped: 0 };
    return point;
  }

  count(o: Outcome): number {
    return this.outcomes.get(o) ?? 0;
  }

  ungraceful(): number {
    return UNGRACEFUL.reduce((a, o) => a + this.count(o), 0);
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
