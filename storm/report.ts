// The end of a storm: summary tables for people, a JSON document for machines.
import { snapshotOf } from "./snapshot.js";
import type { MetricsSnapshot } from "./snapshot.js";
import Table from "cli-table3";
import { OUTCOMES, PHASES } from "./metrics.js";
import type { Metrics, Outcome, Phase, TimelinePoint } from "./metrics.js";
import type { Histogram } from "./histogram.js";
import type { StormResult } from "./scheduler.js";
import type { FindLimitResult } from "./find-limit.js";
import type { Threshold } from "./thresholds.js";
import { actualValue, passes } from "./thresholds.js";

const ms = (micros: number): string => (micros / 1000).toFixed(micros < 10_000 ? 2 : 0);

export interface ThresholdResult {
  threshold: string;
  actual: number;
  /** "ms" for latency thresholds */
  unit: "ms" | "";
  ok: boolean;
}

export function evaluate(thresholds: readonly Threshold[], m: Metrics): ThresholdResult[] {
  return thresholds.map((t) => {
    const actual = actualValue(t, m);
    return { threshold: t.text, actual, unit: t.fn === "rate" || t.fn === "count" ? "" : "ms", ok: passes(t, actual) };
  });
}

/** A threshold's measured value as the reports print it: "94.21ms", "0", "0.0125". */
export function actualText(t: ThresholdResult): string {
  return t.unit === "ms" ? `${t.actual.toFixed(2)}ms` : Number.isInteger(t.actual) ? String(t.actual) : t.actual.toFixed(4);
}

export function summaryText(r: StormResult, target: string, thresholds: ThresholdResult[]): string {
  const m = r.metrics;
  const secs = r.durationMs / 1000;
  const out: string[] = [];
  out.push(
    `storm against ${target}: ${m.sessions} sessions in ${secs.toFixed(1)} s (${r.model} loop), ${m.accepted} messages accepted (${(m.accepted / secs).toFixed(1)} msg/s), peak concurrency ${m.maxConcurrency}, seed ${r.seed}${r.interrupted ? " (INTERRUPTED: partial results)" : ""}`,
  );
  if (m.dropped > 0) out.push(`dropped: ${m.dropped} arrivals not started because the in-flight cap was reached (the target or this generator could not keep up)`);
  if (m.count("local") > 0) out.push(`LOCAL LIMIT: ${m.count("local")} sessions could not open a socket on this machine (file descriptor limit or ephemeral ports); raise 'ulimit -n' or lower the load: these are not the server's failures`);
  if (m.maxHolding > 0) out.push(`held: up to ${m.maxHolding} sessions idle at once`);
  const line = (label: string, map: Map<string, number>): void => {
    if (map.size > 0) out.push(`${label}: ` + [...map].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}×${n}`).join("  "));
  };
  line("kinds", m.kinds);
  line("transports", m.transports);
  const lat = new Table({ head: ["phase (ms)", "count", "p50", "p90", "p99", "p99.9", "max"], style: { head: [], border: [], compact: true } });
  for (const p of PHASES) {
    const h = m.phases.get(p);
    if (h === undefined || h.count === 0) continue;
    lat.push([p, h.count, ms(h.quantile(0.5)), ms(h.quantile(0.9)), ms(h.quantile(0.99)), ms(h.quantile(0.999)), ms(h.max)]);
  }
  out.push(lat.toString());
  const oc = new Table({ head: ["outcome", "sessions", "share"], style: { head: [], border: [], compact: true } });
  for (const o of OUTCOMES) {
    const n = m.count(o);
    if (n > 0) oc.push([o, n, `${((100 * n) / Math.max(1, m.sessions)).toFixed(1)}%`]);
  }
  out.push(oc.toString());
  const codes = [...m.codes.entries()].sort(([a], [b]) => a.localeCompare(b));
  if (codes.length > 0) out.push("replies: " + codes.map(([k, n]) => `${k}×${n}`).join("  "));
  line("enhanced", m.enhanced);
  if (thresholds.length > 0) {
    const th = new Table({ head: ["threshold", "actual", "result"], style: { head: [], border: [], compact: true } });
    for (const t of thresholds) th.push([t.threshold, actualText(t), t.ok ? "pass" : "FAIL"]);
    out.push(th.toString());
  }
  return out.join("\n");
}

/** Latency summary of one phase; every value in microseconds. */
export type PhaseStats = ReturnType<Histogram["toJSON"]>;

/** The JSON report (`--json`), also the input of the HTML report. */
export interface StormJson {
  target: string;
  seed: number;
  durationMs: number;
  interrupted: boolean;
  /** sessions that ran to an outcome */
  sessions: number;
  /** messages acknowledged with 250 after the final dot */
  accepted: number;
  maxConcurrency: number;
  outcomes: Partial<Record<Outcome, number>>;
  /** phases that recorded at least one latency */
  phases: Partial<Record<Phase, PhaseStats>>;
  /** "phase code" -> count, e.g. "rcpt 451" */
  codes: Record<string, number>;
  /** one point per second */
  timeline: TimelinePoint[];
  thresholds: ThresholdResult[];
  // Added with the storm engine (issue 5); everything above keeps its shape.
  model: StormResult["model"];
  /** open loop: arrivals not started because the in-flight cap was reached */
  dropped: number;
  maxHolding: number;
  /** "phase enhanced-code" -> count, e.g. "dot 2.0.0" */
  enhanced: Record<string, number>;
  transports: Record<string, number>;
  kinds: Record<string, number>;
  failure: StormResult["failure"];
  /** with --shrink-out */
  shrunk?: unknown;
  /** the metrics as mergeable data: what `storm merge` adds up */
  snapshot: MetricsSnapshot;
  /** with --shard I/N: which part of which run this is (seed above is the part's own) */
  shard?: StormResult["shard"];
  /** wall clock (ms) when the run started: where `storm merge` checks that parts overlapped */
  startedAt?: number;
}

/** The JSON report. `extra` adds top-level fields (e.g. "shrunk"); existing fields never change shape. */
export function toJson(r: StormResult, target: string, thresholds: ThresholdResult[], extra: { shrunk?: unknown } = {}): StormJson {
  const m = r.metrics;
  return {
    target,
    seed: r.seed,
    durationMs: Math.round(r.durationMs),
    interrupted: r.interrupted,
    sessions: m.sessions,
    accepted: m.accepted,
    maxConcurrency: m.maxConcurrency,
    outcomes: Object.fromEntries(m.outcomes),
    phases: Object.fromEntries([...m.phases].filter(([, h]) => h.count > 0).map(([p, h]) => [p, h.toJSON()])),
    codes: Object.fromEntries(m.codes),
    timeline: m.timeline,
    thresholds,
    // Added with the storm engine (issue 5); everything above keeps its shape.
    model: r.model,
    dropped: m.dropped,
    maxHolding: m.maxHolding,
    enhanced: Object.fromEntries(m.enhanced),
    transports: Object.fromEntries(m.transports),
    kinds: Object.fromEntries(m.kinds),
    failure: r.failure,
    snapshot: snapshotOf(m, r.startedAt),
    ...(r.shard !== undefined ? { shard: r.shard } : {}),
    startedAt: r.startedAt,
    ...extra,
  };
}

export function findLimitText(r: FindLimitResult, target: string): string {
  const unit = r.model === "open" ? "arrivals/s" : "sessions";
  const t = new Table({ head: [`level (${unit})`, "sessions", "accepted", "failed", "p99 ms", "4xx (421/451)", "ungraceful", "verdict"], style: { head: [], border: [], compact: true } });
  for (const s of r.steps) t.push([s.level, s.sessions, s.accepted, `${(s.errorRate * 100).toFixed(1)}%`, s.p99Ms.toFixed(0), `${s.tempfail} (${s.replies421}/${s.replies451})`, s.ungraceful, s.degraded ? `DEGRADED: ${s.reason}` : "ok"]);
  const out = [`find-limit against ${target} (${r.model} loop)${r.interrupted ? " (INTERRUPTED)" : ""}`, t.toString()];
  if (r.breakingPoint === null) out.push(`no breaking point up to ${r.steps.at(-1)?.level ?? 0} ${unit}`);
  else {
    out.push(`breaking point: ${r.breakingPoint} ${unit} (last good: ${r.lastGood ?? "none"})`);
    const how = {
      graceful: "gracefully: the excess got 4xx replies (421/451), no resets or timeouts",
      ungraceful: "UNGRACEFULLY: resets, timeouts or refused connections instead of 4xx replies",
      mixed: "partly gracefully: 4xx replies AND resets/timeouts",
      latency: "by slowing down (latency over the limit), no failures",
    } as const;
    out.push(`load shedding: ${how[r.shedding ?? "latency"]}`);
    const broken = r.steps.find((s) => s.degraded);
    if (broken !== undefined) out.push(`at the breaking point: ${Object.entries(broken.outcomes).map(([o, n]) => `${o}×${n}`).join("  ")}`);
    out.push(r.recoveryMs === null ? "recovery: no normal session within the recovery timeout" : `recovery: a normal session succeeded ${(r.recoveryMs / 1000).toFixed(2)} s after the load stopped (probing while in-flight sessions drained; yardstick ${Math.max(2 * r.baselineMs, 50).toFixed(0)} ms)`);
  }
  return out.join("\n");
}
