// Discovery: the calls a profiled transaction made, by point, call site and the phase in flight
// when they happened, become the sites a sweep fails one at a time. Roles that were busy in a
// phase are also sites for a kill of one of their processes then.
import type { CallSite } from "./failures.js";
import type { PhaseTimeline, SweepPhase } from "./phases.js";
import type { ProfiledCall } from "../surface.js";
import { SITE_DEPTHS, type SiteDepth } from "../../targets/process/syscall-shim.js";
import { kindOf } from "../layers/registry.js";

export type { ProfiledCall };

/**
 * The role and call a point names, as its layer reads them (sys.<role>.<call>: the call; kill.<role>,
 * pause.<role>: the kill or pause); a hook's point has no role and is its own call.
 */
export function roleAndCall(point: string): { role: string | null; call: string } {
  const kind = kindOf(point);
  const role = kind?.roleOf?.(point) ?? null;
  if (role === null || kind === null) return { role: null, call: point };
  return { role, call: kind.scoped === true ? kind.family : (kind.callOf?.(point) ?? point) };
}

export interface SiteOptions {
  /** the kill.<role> points the target offers: each is a site in every phase its role made calls (or, with no sys profile, every phase) */
  killPoints: readonly string[];
  /** whether the sys.* calls were profiled (roles' activity is known) */
  sysProfiled: boolean;
}

/** A call's stack hash over `depth` return addresses (ProfiledCall.stacks is in SITE_DEPTHS order); 0: unknown. */
export function hashAt(stacks: readonly number[], depth: SiteDepth): number {
  return stacks[SITE_DEPTHS.indexOf(depth)] ?? 0;
}

export interface SiteResult {
  sites: CallSite[];
  /** point-phase pairs seen in fewer than half of the transactions (work racing a phase boundary): dropped */
  racy: number;
  /** point-phase pairs whose call sites hash differently from transaction to transaction at every depth: swept as one site */
  unstable: number;
}

/**
 * Sites from the calls of the profiled transactions, each call placed in the phase in flight when
 * it happened. A point must be seen in a phase in at least half of the transactions: work the
 * MTA does on its own schedule (a delivery that starts as the 250 goes out) races the phase
 * boundary, and is swept in the phase it usually falls in. Its call sites are told apart by the
 * deepest stack hash at which each of them recurs in at least half of the transactions (stale
 * frames deep in an interpreter's stack differ from call to call; the top ones do not); where no
 * depth is stable, the point is one site in that phase.
 */
export function sitesFrom(calls: readonly ProfiledCall[], timelines: readonly PhaseTimeline[], o: SiteOptions): SiteResult {
  const groups = new Map<string, { point: string; phase: SweepPhase; calls: Array<{ tx: number; stacks: readonly number[] }> }>();
  const phaseOf = (t: number): { phase: SweepPhase; tx: number } | null => {
    for (let i = 0; i < timelines.length; i++) {
      const p = (timelines[i] as PhaseTimeline).phaseAt(t);
      if (p !== null) return { phase: p, tx: i };
    }
    return null;
  };
  for (const c of calls) {
    const at = phaseOf(c.at);
    if (at === null) continue; // between transactions: nobody's
    const key = `${c.point}|${at.phase}`;
    const g = groups.get(key) ?? { point: c.point, phase: at.phase, calls: [] };
    g.calls.push({ tx: at.tx, stacks: c.stacks });
    groups.set(key, g);
  }
  const quorum = Math.ceil(timelines.length / 2);
  const txCount = (xs: ReadonlyArray<{ tx: number }>): number => new Set(xs.map((x) => x.tx)).size;
  const sites: CallSite[] = [];
  const busy = new Map<string, Set<SweepPhase>>();
  let racy = 0;
  let unstable = 0;
  for (const g of groups.values()) {
    if (txCount(g.calls) < quorum) {
      racy++;
      continue;
    }
    const { role, call } = roleAndCall(g.point);
    if (role !== null) {
      const b = busy.get(role.toLowerCase()) ?? new Set<SweepPhase>();
      b.add(g.phase);
      busy.set(role.toLowerCase(), b);
    }
    const site = (stack: CallSite["stack"], n: number): CallSite => ({ point: g.point, role, call, stack, phase: g.phase, calls: n });
    if (g.calls.every((c) => c.stacks.length === 0)) {
      sites.push(site(null, g.calls.length));
      continue;
    }
    let chosen = false;
    for (const depth of [...SITE_DEPTHS].reverse()) {
      if (chosen) break;
      const byHash = new Map<number, Array<{ tx: number }>>();
      for (const c of g.calls) {
        const h = hashAt(c.stacks, depth);
        byHash.set(h, [...(byHash.get(h) ?? []), c]);
      }
      if (byHash.has(0) || [...byHash.values()].some((xs) => txCount(xs) < quorum)) continue;
      for (const [hash, xs] of [...byHash].sort(([a], [b]) => (a >>> 0) - (b >>> 0))) sites.push(site({ hash, depth }, xs.length));
      chosen = true;
    }
    if (!chosen) {
      unstable++;
      sites.push(site(null, g.calls.length));
    }
  }
  const everyPhase = new Set(timelines.flatMap((t) => t.phases()));
  for (const k of o.killPoints) {
    const { role } = roleAndCall(k);
    const phases = o.sysProfiled ? (busy.get((role ?? "").toLowerCase()) ?? new Set<SweepPhase>()) : everyPhase;
    for (const phase of phases) sites.push({ point: k, role, call: "kill", stack: null, phase, calls: 1 });
  }
  return { sites, racy, unstable };
}
