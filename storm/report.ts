// The end of a storm: summary tables for people, a JSON document for machines.
import Table from "cli-table3";
import { OUTCOMES, PHASES } from "./metrics.js";
import type { Metrics, Outcome, Phase, TimelinePoint } from "./metrics.js";
import type { Histogram } from "./histogram.js";
import type { StormResult } from "./scheduler.js";
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

export function summaryText(r: StormResult, target: string, thresholds: ThresholdResult[]): string {
  const m = r.metrics;
  const secs = r.durationMs / 1000;
  const out: string[] = [];
  out.push(
    `storm against ${target}: ${m.sessions} sessions in ${secs.toFixed(1)} s, ${m.accepted} messages accepted (${(m.accepted / secs).toFixed(1)} msg/s), peak concurrency ${m.maxConcurrency}, seed ${r.seed}${r.interrupted ? " (INTERRUPTED: partial results)" : ""}`,
  );
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
  if (thresholds.length > 0) {
    const th = new Table({ head: ["threshold", "actual", "result"], style: { head: [], border: [], compact: true } });
    for (const t of thresholds) th.push([t.threshold, t.unit === "ms" ? `${t.actual.toFixed(2)}ms` : Number.isInteger(t.actual) ? t.actual : t.actual.toFixed(4), t.ok ? "pass" : "FAIL"]);
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
}

export function toJson(r: StormResult, target: string, thresholds: ThresholdResult[]): StormJson {
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
  };
}
