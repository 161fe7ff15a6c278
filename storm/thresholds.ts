// Pass/fail criteria for CI, k6-style: "p99(dot)<500ms", "rate(ungraceful)==0",
// "count(accepted)>=1000", "max(connect)<1s".
import { UserError } from "../common/errors.js";
import { parseDuration } from "../common/duration.js";
import { OUTCOMES, PHASES, UNGRACEFUL } from "./metrics.js";
import type { Metrics, Outcome, Phase } from "./metrics.js";

type Op = "<" | "<=" | ">" | ">=" | "==" | "!=";
const STATS = { p50: 0.5, p90: 0.9, p99: 0.99, p999: 0.999, max: 1 } as const;

export interface Threshold {
  text: string;
  fn: "p50" | "p90" | "p99" | "p999" | "max" | "rate" | "count";
  arg: string;
  op: Op;
  /** ms for latency functions, a fraction for rate, a number for count */
  value: number;
}

/** Shown on one line: text from a mix file or a flag comes out with its control characters escaped. */
export class ThresholdError extends UserError {}

const RATE_ARGS = [...OUTCOMES, "ungraceful", "graceful-failure"];

export function parseThreshold(text: string): Threshold {
  const m = /^\s*(p50|p90|p99|p999|max|rate|count)\(([\w-]+)\)\s*(<=|>=|==|!=|<|>)\s*([\d.]+\s*(?:ms|s|m|%)?)\s*$/.exec(text);
  if (m === null) throw new ThresholdError(`threshold "${text}": expected FN(ARG) OP VALUE, e.g. "p99(dot)<500ms" or "rate(ungraceful)==0"`);
  const [, fn, arg, op, raw] = m as unknown as [string, Threshold["fn"], string, Op, string];
  let value: number;
  if (fn === "rate") {
    if (!RATE_ARGS.includes(arg)) throw new ThresholdError(`threshold "${text}": rate() takes one of ${RATE_ARGS.join(", ")}`);
    value = raw.endsWith("%") ? Number(raw.slice(0, -1)) / 100 : Number(raw);
  } else if (fn === "count") {
    if (![...RATE_ARGS, "accepted", "sessions"].includes(arg)) throw new ThresholdError(`threshold "${text}": count() takes accepted, sessions or an outcome`);
    value = Number(raw);
  } else {
    if (!(PHASES as readonly string[]).includes(arg)) throw new ThresholdError(`threshold "${text}": ${fn}() takes a phase: ${PHASES.join(", ")}`);
    const d = parseDuration(raw.replace(/\s+/g, ""));
    if (d === null) throw new ThresholdError(`threshold "${text}": "${raw}" is not a duration`);
    value = d;
  }
  if (!Number.isFinite(value)) throw new ThresholdError(`threshold "${text}": "${raw}" is not a number`);
  return { text: text.trim(), fn, arg, op, value };
}

export function actualValue(t: Threshold, m: Metrics): number {
  if (t.fn === "rate" || t.fn === "count") {
    const n =
      t.arg === "accepted" ? m.accepted
      : t.arg === "sessions" ? m.sessions
      : t.arg === "ungraceful" ? m.ungraceful()
      : t.arg === "graceful-failure" ? m.count("tempfail") + m.count("permfail")
      : m.count(t.arg as Outcome);
    if (t.fn === "count") return n;
    return m.sessions === 0 ? 0 : n / m.sessions;
  }
  const h = m.phases.get(t.arg as Phase);
  return h === undefined ? NaN : h.quantile(STATS[t.fn]) / 1000;
}

export function passes(t: Threshold, actual: number): boolean {
  switch (t.op) {
    case "<":
      return actual < t.value;
    case "<=":
      return actual <= t.value;
    case ">":
      return actual > t.value;
    case ">=":
      return actual >= t.value;
    case "==":
      return actual === t.value;
    case "!=":
      return actual !== t.value;
  }
}

export { UNGRACEFUL };
