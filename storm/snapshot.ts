// A storm's metrics as plain data that merges: raw histograms (not percentiles), counts, and a
// timeline on absolute seconds. Worker threads send one every second, shards write one in their
// JSON, and `storm merge` adds them up. Merging is associative and commutative: counts add,
// histograms add bucket by bucket, timeline points add by the wall-clock second they cover.
import { Histogram } from "./histogram.js";
import type { HistogramRaw } from "./histogram.js";
import { Metrics, OUTCOMES, PHASES } from "./metrics.js";
import type { Outcome, Phase, TimelinePoint } from "./metrics.js";

export interface MetricsSnapshot {
  version: 1;
  phases: Partial<Record<Phase, HistogramRaw>>;
  codes: Record<string, number>;
  enhanced: Record<string, number>;
  transports: Record<string, number>;
  kinds: Record<string, number>;
  outcomes: Record<Outcome, number>;
  sessions: number;
  started: number;
  accepted: number;
  dropped: number;
  inFlight: number;
  holding: number;
  /** merged: the highest of the parts' own peaks and of the merged timeline's per-second
   * concurrency (parts' peaks need not coincide, so their sum would overstate it) */
  maxConcurrency: number;
  /** merged: likewise, from the parts' peaks and the merged timeline's per-second holds */
  maxHolding: number;
  /** the timeline, each point at its wall-clock second (Unix seconds), not since its part's start */
  timeline: Array<Omit<TimelinePoint, "t"> & { at: number }>;
}

/** `m` as data; `startedAtMs` (wall clock) places its timeline. */
export function snapshotOf(m: Metrics, startedAtMs: number): MetricsSnapshot {
  const base = Math.round(startedAtMs / 1000);
  return {
    version: 1,
    phases: Object.fromEntries([...m.phases].filter(([, h]) => h.count > 0).map(([p, h]) => [p, h.raw()])),
    codes: Object.fromEntries(m.codes),
    enhanced: Object.fromEntries(m.enhanced),
    transports: Object.fromEntries(m.transports),
    kinds: Object.fromEntries(m.kinds),
    outcomes: Object.fromEntries(m.outcomes) as Record<Outcome, number>,
    sessions: m.sessions,
    started: m.started,
    accepted: m.accepted,
    dropped: m.dropped,
    inFlight: m.inFlight,
    holding: m.holding,
    maxConcurrency: m.maxConcurrency,
    maxHolding: m.maxHolding,
    timeline: m.timeline.map(({ t, ...rest }) => ({ at: base + t, ...rest })),
  };
}

const addInto = (into: Record<string, number>, from: Record<string, number>): void => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};

/** The sum of snapshots; empty input gives an empty snapshot. */
export function mergeSnapshots(parts: readonly MetricsSnapshot[]): MetricsSnapshot {
  const out: MetricsSnapshot = {
    version: 1,
    phases: {},
    codes: {},
    enhanced: {},
    transports: {},
    kinds: {},
    outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>,
    sessions: 0,
    started: 0,
    accepted: 0,
    dropped: 0,
    inFlight: 0,
    holding: 0,
    maxConcurrency: 0,
    maxHolding: 0,
    timeline: [],
  };
  const seconds = new Map<number, Omit<TimelinePoint, "t"> & { at: number }>();
  for (const s of parts) {
    if (s.version !== 1) throw new RangeError(`unknown metrics snapshot version ${String(s.version)}`);
    for (const p of PHASES) {
      const h = s.phases[p];
      if (h === undefined) continue;
      const mine = out.phases[p];
      if (mine === undefined) out.phases[p] = h;
      else {
        const merged = Histogram.fromRaw(mine);
        merged.merge(Histogram.fromRaw(h));
        out.phases[p] = merged.raw();
      }
    }
    addInto(out.codes, s.codes);
    addInto(out.enhanced, s.enhanced);
    addInto(out.transports, s.transports);
    addInto(out.kinds, s.kinds);
    addInto(out.outcomes, s.outcomes);
    out.sessions += s.sessions;
    out.started += s.started;
    out.accepted += s.accepted;
    out.dropped += s.dropped;
    out.inFlight += s.inFlight;
    out.holding += s.holding;
    out.maxConcurrency = Math.max(out.maxConcurrency, s.maxConcurrency);
    out.maxHolding = Math.max(out.maxHolding, s.maxHolding);
    for (const pt of s.timeline) {
      const cur = seconds.get(pt.at);
      if (cur === undefined) seconds.set(pt.at, { ...pt });
      else {
        for (const k of ["started", "completed", "accepted", "errors", "concurrency", "dropped"] as const) cur[k] += pt[k];
        if (pt.holding !== undefined) cur.holding = (cur.holding ?? 0) + pt.holding;
      }
    }
  }
  out.timeline = [...seconds.values()].sort((a, b) => a.at - b.at);
  // the peak of the whole: sessions in flight at once across parts, second by second
  for (const pt of out.timeline) {
    if (pt.concurrency > out.maxConcurrency) out.maxConcurrency = pt.concurrency;
    if ((pt.holding ?? 0) > out.maxHolding) out.maxHolding = pt.holding ?? 0;
  }
  return out;
}

/** Metrics to report from a snapshot: the timeline's t counts from its first second. */
export function metricsFrom(s: MetricsSnapshot): Metrics {
  const m = new Metrics();
  for (const [p, raw] of Object.entries(s.phases)) {
    if (!(PHASES as readonly string[]).includes(p)) throw new RangeError(`unknown phase "${p}" in a metrics snapshot`);
    m.phases.get(p as Phase)?.merge(Histogram.fromRaw(raw));
  }
  const fill = (map: Map<string, number>, from: Record<string, number>): void => {
    for (const [k, v] of Object.entries(from)) map.set(k, v);
  };
  fill(m.codes, s.codes);
  fill(m.enhanced, s.enhanced);
  fill(m.transports, s.transports);
  fill(m.kinds, s.kinds);
  for (const o of OUTCOMES) m.outcomes.set(o, s.outcomes[o] ?? 0);
  m.sessions = s.sessions;
  m.started = s.started;
  m.accepted = s.accepted;
  m.dropped = s.dropped;
  m.inFlight = s.inFlight;
  m.holding = s.holding;
  m.maxConcurrency = s.maxConcurrency;
  m.maxHolding = s.maxHolding;
  const first = s.timeline[0]?.at ?? 0;
  m.timeline.push(...s.timeline.map(({ at, ...rest }) => ({ t: at - first, ...rest })));
  return m;
}
