// Discovery: the calls a profiled transaction made, by point, call site and the phase in flight
// when they happened, become the sites a sweep fails one at a time. Roles that were busy in a
// phase are also sites for a kill of one of their processes then.
import type { CallSite } from "./failures.js";
import type { PhaseTimeline, SweepPhase } from "./phases.js";
import type { ProfiledCall } from "../surface.js";

export type { ProfiledCall };

const SYS = /^sys\.(.+)\.([a-z]+)$/;

/** The role and call a point names (sys.<role>.<call>, kill.<role>); a hook's point has neither. */
export function roleAndCall(point: string): { role: string | null; call: string } {
  const sys = SYS.exec(point);
  if (sys !== null) return { role: sys[1] as string, call: sys[2] as string };
  const proc = /^(kill|pause)\.(.+)$/.exec(point);
  if (proc !== null) return { role: proc[2] as string, call: proc[1] as string };
  return { role: null, call: point };
}

export interface SiteOptions {
  /** the kill.<role> points the target offers: each is a site in every phase its role made calls (or, with no sys profile, every phase) */
  killPoints: readonly string[];
  /** whether the sys.* calls were profiled (roles' activity is known) */
  sysProfiled: boolean;
}

/**
 * Sites from the calls of the profiled transactions, each call placed in the phase in flight when
 * it happened. A site must be seen in that phase in at least half of the transactions: work the
 * MTA does on its own schedule (a delivery that starts as the 250 goes out) races the phase
 * boundary, and is swept in the phase it usually falls in; `racy` counts the sites dropped so.
 */
export function sitesFrom(calls: readonly ProfiledCall[], timelines: readonly PhaseTimeline[], o: SiteOptions): { sites: CallSite[]; racy: number } {
  const seen = new Map<string, { site: CallSite; in: Set<number> }>();
  const busy = new Map<string, Set<SweepPhase>>();
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
    const { role, call } = roleAndCall(c.point);
    const key = `${c.point}|${c.stack}|${at.phase}`;
    const s = seen.get(key);
    if (s !== undefined) {
      s.site.calls++;
      s.in.add(at.tx);
    } else seen.set(key, { site: { point: c.point, role, call, stack: c.stack, phase: at.phase, calls: 1 }, in: new Set([at.tx]) });
  }
  const quorum = Math.ceil(timelines.length / 2);
  const sites = new Map<string, CallSite>();
  for (const [key, { site, in: txs }] of seen) {
    if (txs.size < quorum) continue;
    sites.set(key, site);
    if (site.role === null) continue;
    const b = busy.get(site.role.toLowerCase()) ?? new Set<SweepPhase>();
    b.add(site.phase);
    busy.set(site.role.toLowerCase(), b);
  }
  const everyPhase = new Set(timelines.flatMap((t) => t.phases()));
  for (const k of o.killPoints) {
    const { role } = roleAndCall(k);
    const phases = o.sysProfiled ? (busy.get((role ?? "").toLowerCase()) ?? new Set<SweepPhase>()) : everyPhase;
    for (const phase of phases) sites.set(`${k}||${phase}`, { point: k, role, call: "kill", stack: 0, phase, calls: 1 });
  }
  return { sites: [...sites.values()], racy: [...seen.values()].filter((x) => x.in.size < quorum).length };
}
