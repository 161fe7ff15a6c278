// What each storm session does, drawn from a declared mix with fast-check arbitraries from one
// seed: the same seed and mix give the same sequence of session plans, so a run replays, and a
// failing plan can be found again by (seed, path) and shrunk by fast-check (storm/shrink.ts).
import fc from "fast-check";

import { KINDS, SESSION_KINDS } from "./kinds/index.js";
import type { CommonDraw, Range, SessionKind, SessionPlan } from "./kinds/kind.js";
import { MixError, SIZE_UNITS, logInt, range } from "./kinds/sections.js";
import { formatIssues, Issues } from "../common/issues.js";

export { SESSION_KINDS, MixError };
export type { SessionKind, SessionPlan, Range };
export type { TlsMode } from "./kinds/kind.js";

/** What every mix has; each kind adds its own section (storm/kinds/), read by the kind. */
export interface Mix {
  /** relative weights; kinds left out do not occur */
  weights: Partial<Record<SessionKind, number>>;
  /** message sizes: bytes, drawn log-uniformly between min and max */
  size: Range;
  rcpts: Range;
  /**
   * transactions per session for every kind that sends mail (except "multi", see below):
   * 1 is a connection per message; hundreds reuse a connection like `smtp-source -d`
   */
  transactions: Range;
  /** share of sessions that upgrade with STARTTLS when the server offers it (0..1) */
  starttls: number;
  /** share of sessions that use implicit TLS (when the target has a tlsPort) (0..1) */
  implicitTls: number;
  /** share of sessions over IPv6 (when the target has an IPv6 endpoint) (0..1) */
  ipv6: number;
  /** the built-in kinds' sections, typed for the code that reads them; see each kind for its meaning */
  multi: Range;
  large: Range;
  manyRcpts: Range;
  hold: Range;
  slowloris: { pauseMs: Range; chunk: Range };
  /** sections of kinds added later, each read by its own kind */
  readonly [section: string]: unknown;
}

const COMMON = {
  weights: { basic: 70, pipelined: 15, multi: 5, "abort-data": 4, "abort-after-dot": 3, garbage: 3 },
  size: { min: 200, max: 64 * 1024 },
  rcpts: { min: 1, max: 3 },
  transactions: { min: 1, max: 1 },
  starttls: 0,
  implicitTls: 0,
  ipv6: 0,
};

export const DEFAULT_MIX: Mix = { ...COMMON, ...Object.fromEntries(KINDS.flatMap((k) => (k.section === undefined ? [] : [[k.section.key, k.section.default]]))) } as unknown as Mix;

/** Checks a parsed mix file (YAML/JSON); missing fields take DEFAULT_MIX values. */
/** A mix checked whole: one MixError lists every problem (a kind's section reports its own). */
export function validateMix(m: unknown): Mix {
  const src = (m ?? {}) as Record<string, unknown>;
  const issues = new Issues();
  // the checks below and the kinds' sections throw MixError("mix: ..."); each is one issue, and the next check still runs
  const check = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof MixError)) throw err;
      issues.add("", err.message.replace(/^mix: /, ""));
      return fallback;
    }
  };
  const bad = (why: string): never => {
    throw new MixError(`mix: ${why}`);
  };
  const known = new Set(Object.keys(DEFAULT_MIX));
  for (const k of Object.keys(src)) if (!known.has(k)) issues.add("", `unknown field "${k}" (${[...known].join(", ")})`);
  const weights = (src.weights ?? DEFAULT_MIX.weights) as Record<string, unknown>;
  for (const [k, w] of Object.entries(weights)) {
    if (!SESSION_KINDS.includes(k)) issues.add("", `unknown session kind "${k}" (${SESSION_KINDS.join(", ")})`);
    else if (typeof w !== "number" || !(w >= 0)) issues.add("", `weight of ${k} must be a number >= 0`);
  }
  if (Object.values(weights).every((w) => w === 0)) issues.add("", "every weight is 0");
  const share = (k: "starttls" | "implicitTls" | "ipv6"): number => {
    const v = src[k] ?? DEFAULT_MIX[k];
    return check(() => (typeof v === "number" && v >= 0 && v <= 1 ? v : bad(`${k} is a share between 0 and 1`)), 0);
  };
  const counted = (key: "rcpts" | "transactions"): Range =>
    check(() => {
      const r = range(src[key], COMMON[key], SIZE_UNITS, key);
      return r.min < 1 ? bad(`${key} needs 1 <= min <= max`) : r;
    }, COMMON[key]);
  const common = {
    weights: weights as Mix["weights"],
    size: check(() => range(src.size, COMMON.size, SIZE_UNITS, "size"), COMMON.size),
    rcpts: counted("rcpts"),
    transactions: counted("transactions"),
    starttls: share("starttls"),
    implicitTls: share("implicitTls"),
    ipv6: share("ipv6"),
  };
  const sections = KINDS.flatMap((k) => (k.section === undefined ? [] : [[k.section.key, check(() => k.section?.parse(src[k.section.key]), k.section.default)]]));
  if (issues.list.length > 0) throw new MixError(formatIssues("mix", issues.list));
  return { ...common, ...Object.fromEntries(sections) } as Mix;
}

/** true with probability `share`; shrinks towards false (the plainer session). */
function chance(share: number): fc.Arbitrary<boolean> {
  if (share <= 0) return fc.constant(false);
  if (share >= 1) return fc.constant(true);
  return fc.oneof({ withCrossShrink: true }, { arbitrary: fc.constant(false), weight: Math.round((1 - share) * 10_000) }, { arbitrary: fc.constant(true), weight: Math.round(share * 10_000) });
}

export function planArbitrary(mix: Mix): fc.Arbitrary<SessionPlan> {
  // Registry order, "basic" first: with cross-shrinking, fast-check shrinks oneof towards its first branch, the plainest session.
  const kinds = KINDS.filter((k) => (mix.weights[k.name] ?? 0) > 0).map((k) => ({ arbitrary: fc.constant(k), weight: Math.round((mix.weights[k.name] as number) * 100) }));
  // Every kind's own numbers are drawn for every plan, so adding a kind to a mix leaves the
  // other kinds' plans of a seed as they were. Tuples, not records: a plan is drawn per session,
  // and fast-check draws a tuple about five times faster (a record adds a null-prototype flag
  // to its draws and maps keys to values).
  const own = KINDS.flatMap((k) => {
    if (k.section === undefined) return [];
    const arbs = k.section.draw(mix[k.section.key]);
    return [{ kind: k.name, keys: Object.keys(arbs), arb: fc.tuple(...Object.values(arbs)) }];
  });
  return fc
    .tuple(
      fc.oneof({ withCrossShrink: true }, ...kinds),
      fc.integer({ min: mix.rcpts.min, max: mix.rcpts.max }),
      logInt(mix.size),
      chance(mix.implicitTls),
      chance(mix.starttls),
      chance(mix.ipv6),
      fc.integer({ min: mix.transactions.min, max: mix.transactions.max }),
      fc.tuple(...own.map((o) => o.arb)),
    )
    .map(([kind, rcpts, size, implicit, starttls, ipv6, transactions, owns]): SessionPlan => {
      const common: CommonDraw = { kind: kind.name, rcpts, size, transactions, tls: implicit ? "implicit" : starttls ? "starttls" : "none", family: ipv6 ? 6 : 4 };
      const section = kind.section === undefined ? undefined : mix[kind.section.key];
      // only the chosen kind's numbers become a record
      const i = own.findIndex((o) => o.kind === kind.name);
      const values: Record<string, number> = {};
      if (i >= 0) (own[i] as (typeof own)[number]).keys.forEach((key, j) => (values[key] = (owns[i] as number[])[j] as number));
      return kind.plan(common, values, section);
    });
}

/** Where a plan came from: fc.check(property, { seed, path }) replays (and shrinks) exactly it. */
export interface PlanOrigin {
  seed: number;
  path: string;
}

/** An endless, replayable stream of plans: batch k is drawn with seed + k. */
export class PlanStream {
  private batch: SessionPlan[] = [];
  private batchIndex = 0;
  private pos = 0;
  private readonly arb: fc.Arbitrary<SessionPlan>;

  constructor(
    mix: Mix,
    readonly seed: number,
    private readonly batchSize = 500,
  ) {
    this.arb = planArbitrary(mix);
  }

  next(): SessionPlan {
    if (this.pos >= this.batch.length) {
      this.batch = fc.sample(this.arb, { seed: (this.seed + this.batchIndex) | 0, numRuns: this.batchSize });
      this.batchIndex++;
      this.pos = 0;
    }
    return this.batch[this.pos++] as SessionPlan;
  }

  /** Where the plan last returned by next() is in the stream (see originOf). */
  position(): number {
    return (this.batchIndex - 1) * this.batchSize + this.pos - 1;
  }

  /** The origin of the plan at `position`: a number per session until a failure asks for it. */
  originOf(position: number): PlanOrigin {
    return { seed: (this.seed + Math.floor(position / this.batchSize)) | 0, path: String(position % this.batchSize) };
  }
}
