// Where a target's fault points live. The monkey runner and the control API hold one Injector
// (the seeded decision maker); each target exposes its fault points through a FaultSurface that
// makes the target's operations ask that injector (in-process hooks, lookup servers it queries)
// or mirrors the plan into mechanisms that decide inside the target (libfiu, signals).
import type { Injector } from "./injector.js";
import type { ReachInfo } from "./reach.js";

/** The plan entry that makes a delay a surface cannot make itself: [point, settings], or null. */
export type DelayInstead = (point: string, ms: number) => [string, Record<string, unknown>] | null;

/** One call a mechanism inside the target saw while profiling (a fault sweep's discovery). */
export interface ProfiledCall {
  /** ms since the epoch */
  at: number;
  /** the point a fault there is planned at: sys.<role>.<call>, or a hook's point */
  point: string;
  /** the call site's hash over 2, 4 and 8 return addresses; empty where the mechanism does not tell sites apart (0s: it could not read the stack) */
  stacks: readonly number[];
}

export interface CallProfile {
  calls: ProfiledCall[];
  /** trapped calls no fault could target, by call (a write to a client socket or a file) */
  ineligible: Record<string, number>;
}

export interface FaultSurface {
  /** the fault point names this target can fire, e.g. queue.open, lookup.recipients, pause.queue */
  points(): string[];
  /**
   * Makes the target follow the injector's current plan. Called once at the start of a run and
   * again whenever the plan changes (control API); points of the plan the surface does not have
   * are ignored here (the runner reports them as unsupported).
   */
  apply(injector: Injector): Promise<void>;
  /** Stops injecting (faults off, paused processes resumed); the target keeps running. */
  clear(): Promise<void>;
  /**
   * Points whose decisions are taken inside the target (libfiu draws its own random numbers),
   * not by the injector: sessions can only be attributed to them by time window.
   */
  decidedInside?(): string[];
  /** Fault points that fired inside the target since the last call, for surfaces whose decisions are not taken by the injector (libfiu): point -> count. */
  drainFired?(): Promise<Map<string, number>>;
  /**
   * What the mechanisms that decide inside the target (or signal its processes) know of each
   * point they carried out: their own firing counts, calls seen, processes reached, and why a
   * point could not fire.
   */
  reach?(): Record<string, ReachInfo>;
  /** What failed while the surface followed the plan on its own (timers), for the report. */
  readonly problems?: readonly string[];
  /**
   * A `monkey delay POINT D` statement this surface cannot carry out at POINT (libfiu fails
   * calls, it cannot slow them), as the plan entry that has the same effect for a client.
   */
  delayInstead?: DelayInstead;
  /**
   * Starts recording every injectable call the mechanisms inside the target see (the syscall
   * supervisor: each call of each role, with its call site), faults unchanged; the returned
   * function stops and gives what was seen. Absent: the surface cannot profile.
   */
  profile?(): () => CallProfile;
}
