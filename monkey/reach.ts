// Reach accounting: for every planned point, whether a fault was really injected, how many calls
// it saw and what stopped it when it never fired. A verdict rests on this: a planned point that
// never fired tested nothing, so the run is INCONCLUSIVE (with the point and the reason), and no
// session is charged to it.
import type { PointStats } from "./injector.js";
import type { FaultSpec } from "./plan.js";

/** What a mechanism that decides outside the injector knows of one point (the surface, a layer). */
export interface ReachInfo {
  /** what carries the point out: "seccomp", "libfiu", "signals" */
  mechanism: string;
  /** its own count of faults injected (replaces the injector's) */
  fired?: number;
  /** the count is read from the MTA's log, not from the mechanism's own record */
  estimate?: boolean;
  /** calls of the point's kind seen, eligible or not */
  seen?: number;
  eligible?: number;
  /** processes it reached (made an eligible call, were signalled) */
  processes?: number;
  /** pid -> faults injected into that process (at most a few dozen listed) */
  byProcess?: Record<string, number>;
  /** why it could not fire, when the mechanism knows */
  reason?: string;
}

export interface PointReach {
  point: string;
  mechanism: string;
  fired: number;
  estimate: boolean;
  /** calls (or decisions) seen, eligible or not; null when the mechanism cannot count them */
  seen: number | null;
  eligible: number | null;
  processes: number | null;
  byProcess?: Record<string, number>;
  reached: boolean;
  /** why it did not fire (null when it did) */
  reason: string | null;
}

/** One row per planned point, from the injector's counters and what the mechanisms add. */
export function pointReach(specs: readonly FaultSpec[], stats: readonly PointStats[], extra: ReadonlyArray<Readonly<Record<string, ReachInfo>>>): PointReach[] {
  const byPoint = new Map(stats.map((s) => [s.point, s]));
  return specs.map((spec) => {
    const st = byPoint.get(spec.name);
    const info = extra.map((e) => e[spec.name]).find((x) => x !== undefined);
    const fired = info?.fired ?? st?.fired ?? 0;
    const seen = info?.seen ?? (info === undefined ? (st?.calls ?? 0) : null);
    const eligible = info?.eligible ?? (info === undefined ? (st?.eligible ?? 0) : null);
    const processes = info?.processes ?? null;
    const reached = fired > 0 && (processes === null || processes > 0);
    return {
      point: spec.name,
      mechanism: info?.mechanism ?? "injector",
      fired,
      estimate: info?.estimate === true,
      seen,
      eligible,
      processes,
      ...(info?.byProcess !== undefined ? { byProcess: info.byProcess } : {}),
      reached,
      reason: reached ? null : (info?.reason ?? why(spec, seen, eligible, fired, processes)),
    };
  });
}

function why(spec: FaultSpec, seen: number | null, eligible: number | null, fired: number, processes: number | null): string {
  if (fired > 0 && processes === 0) return "it fired, but no process had its role";
  if (seen === 0) return "never reached: nothing asked for it (no such call, lookup or connection was made)";
  const limits = [spec.phase !== null ? `${spec.phase.op} ${spec.phase.phase}` : null, spec.window !== null ? "its window" : null].filter((x) => x !== null);
  if (eligible === 0) return `${seen ?? "some"} call(s), none eligible${limits.length > 0 ? ` (${limits.join(", ")})` : ""}, or all outside the faults window`;
  return `${eligible ?? "some"} eligible call(s), none drawn by its schedule`;
}

/** The planned points that never fired: the run cannot say the MTA handled them. */
export function unreached(rows: readonly PointReach[]): PointReach[] {
  return rows.filter((r) => !r.reached);
}
