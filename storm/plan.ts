// What each storm session does, drawn from a declared mix with fast-check arbitraries from one
// seed: the same seed and mix give the same sequence of session plans, so a run replays, and a
// failing plan can be found again by (seed, path) and shrunk by fast-check (storm/shrink.ts).
import fc from "fast-check";

export const SESSION_KINDS = [
  "basic",
  "pipelined",
  "multi",
  "abort-data",
  "abort-after-dot",
  "garbage",
  "wellbehaved",
  "slowloris",
  "large",
  "many-rcpts",
  "hold",
] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

export type TlsMode = "none" | "starttls" | "implicit";

export interface SessionPlan {
  kind: SessionKind;
  /** recipients per transaction */
  rcpts: number;
  /** message body bytes */
  size: number;
  /**
   * transactions in the session, one after the other on the same connection: RSET before the
   * next one only after a refused or abandoned one (a 250 to the final dot already reset the
   * transaction, RFC 5321 4.1.1.4), except for "multi", which sends RSET between all of them.
   * The abort kinds complete all but the last and abort that one; "hold" has none (0).
   */
  transactions: number;
  /** starttls: upgrade when offered; implicit: TLS from the first byte on the target's tlsPort */
  tls: TlsMode;
  /** 6: connect over IPv6 (::1) when the target has an IPv6 endpoint */
  family: 4 | 6;
  /** "hold": idle time after EHLO before QUIT, ms (0 for other kinds) */
  holdMs: number;
  /** "slowloris": pause between dribbled chunks, ms (0 for other kinds) */
  pauseMs: number;
  /** "slowloris": bytes per dribbled chunk (0 for other kinds) */
  chunk: number;
}

export interface Range {
  min: number;
  max: number;
}

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
  /** "multi" kind: transactions per session, with RSET between every two */
  multi: Range;
  /** share of sessions that upgrade with STARTTLS when the server offers it (0..1) */
  starttls: number;
  /** share of sessions that use implicit TLS (when the target has a tlsPort) (0..1) */
  implicitTls: number;
  /** share of sessions over IPv6 (when the target has an IPv6 endpoint) (0..1) */
  ipv6: number;
  /** "large" kind: message sizes in bytes, log-uniform */
  large: Range;
  /** "many-rcpts" kind: recipients per transaction */
  manyRcpts: Range;
  /** "hold" kind: idle time in ms */
  hold: Range;
  /** "slowloris" kind: pause between chunks (ms) and chunk size (bytes) */
  slowloris: { pauseMs: Range; chunk: Range };
}

export const DEFAULT_MIX: Mix = {
  weights: { basic: 70, pipelined: 15, multi: 5, "abort-data": 4, "abort-after-dot": 3, garbage: 3 },
  size: { min: 200, max: 64 * 1024 },
  rcpts: { min: 1, max: 3 },
  transactions: { min: 1, max: 1 },
  multi: { min: 2, max: 4 },
  starttls: 0,
  implicitTls: 0,
  ipv6: 0,
  large: { min: 1024 * 1024, max: 20 * 1024 * 1024 },
  manyRcpts: { min: 20, max: 100 },
  hold: { min: 1000, max: 5000 },
  slowloris: { pauseMs: { min: 10, max: 100 }, chunk: { min: 2, max: 16 } },
};

export class MixError extends Error {}

const SIZE_UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 };
const TIME_UNITS: Record<string, number> = { "": 1, ms: 1, s: 1000, m: 60_000 };

/** A number, or a string with a unit: sizes "64k", "10M"; durations "500ms", "5s". */
function quantity(v: unknown, units: Record<string, number>, what: string): number {
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
    const unit = units[(m?.[2] ?? "").toLowerCase()];
    if (m !== null && unit !== undefined) return Math.round(Number(m[1]) * unit);
  }
  throw new MixError(`mix: ${what}: not a number: ${JSON.stringify(v)}`);
}

function range(v: unknown, def: Range, units: Record<string, number>, what: string): Range {
  if (v === undefined) return def;
  if (typeof v !== "object" || v === null) throw new MixError(`mix: ${what} must be {min, max}`);
  const o = v as { min?: unknown; max?: unknown };
  const r = { min: o.min === undefined ? def.min : quantity(o.min, units, `${what}.min`), max: o.max === undefined ? def.max : quantity(o.max, units, `${what}.max`) };
  if (!(r.min >= 0 && r.max >= r.min)) throw new MixError(`mix: ${what} needs 0 <= min <= max`);
  return r;
}

/** Checks a parsed mix file (YAML/JSON); missing fields take DEFAULT_MIX values. */
export function validateMix(m: unknown): Mix {
  const src = (m ?? {}) as Record<string, unknown>;
  const bad = (why: string): never => {
    throw new MixError(`mix: ${why}`);
  };
  const known = new Set(Object.keys(DEFAULT_MIX));
  for (const k of Object.keys(src)) if (!known.has(k)) bad(`unknown field "${k}" (${[...known].join(", ")})`);
  const weights = (src.weights ?? DEFAULT_MIX.weights) as Record<string, unknown>;
  for (const [k, w] of Object.entries(weights)) {
    if (!(SESSION_KINDS as readonly string[]).includes(k)) bad(`unknown session kind "${k}" (${SESSION_KINDS.join(", ")})`);
    if (typeof w !== "number" || !(w >= 0)) bad(`weight of ${k} must be a number >= 0`);
  }
  if (Object.values(weights).every((w) => w === 0)) bad("every weight is 0");
  const share = (k: "starttls" | "implicitTls" | "ipv6"): number => {
    const v = src[k] ?? DEFAULT_MIX[k];
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) bad(`${k} is a share between 0 and 1`);
    return v as number;
  };
  const slow = (src.slowloris ?? {}) as { pauseMs?: unknown; chunk?: unknown };
  const mix: Mix = {
    weights: weights as Mix["weights"],
    size: range(src.size, DEFAULT_MIX.size, SIZE_UNITS, "size"),
    rcpts: range(src.rcpts, DEFAULT_MIX.rcpts, SIZE_UNITS, "rcpts"),
    transactions: range(src.transactions, DEFAULT_MIX.transactions, SIZE_UNITS, "transactions"),
    multi: range(src.multi, DEFAULT_MIX.multi, SIZE_UNITS, "multi"),
    starttls: share("starttls"),
    implicitTls: share("implicitTls"),
    ipv6: share("ipv6"),
    large: range(src.large, DEFAULT_MIX.large, SIZE_UNITS, "large"),
    manyRcpts: range(src.manyRcpts, DEFAULT_MIX.manyRcpts, SIZE_UNITS, "manyRcpts"),
    hold: range(src.hold, DEFAULT_MIX.hold, TIME_UNITS, "hold"),
    slowloris: {
      pauseMs: range(slow.pauseMs, DEFAULT_MIX.slowloris.pauseMs, TIME_UNITS, "slowloris.pauseMs"),
      chunk: range(slow.chunk, DEFAULT_MIX.slowloris.chunk, SIZE_UNITS, "slowloris.chunk"),
    },
  };
  if (mix.rcpts.min < 1) bad("rcpts needs 1 <= min <= max");
  if (mix.manyRcpts.min < 1) bad("manyRcpts needs 1 <= min <= max");
  if (mix.transactions.min < 1) bad("transactions needs 1 <= min <= max");
  if (mix.multi.min < 1) bad("multi needs 1 <= min <= max");
  if (mix.slowloris.chunk.min < 1) bad("slowloris.chunk needs 1 <= min <= max");
  return mix;
}

/** Log-uniform integer in [min, max]; shrinks towards min. */
function logInt(r: Range): fc.Arbitrary<number> {
  if (r.min === r.max) return fc.constant(r.min);
  const logMin = Math.log(Math.max(1, r.min));
  const logMax = Math.log(Math.max(1, r.max));
  return fc.double({ min: logMin, max: logMax, noNaN: true }).map((l) => Math.max(r.min, Math.min(r.max, Math.round(Math.exp(l)))));
}

/** true with probability `share`; shrinks towards false (the plainer session). */
function chance(share: number): fc.Arbitrary<boolean> {
  if (share <= 0) return fc.constant(false);
  if (share >= 1) return fc.constant(true);
  return fc.oneof({ withCrossShrink: true }, { arbitrary: fc.constant(false), weight: Math.round((1 - share) * 10_000) }, { arbitrary: fc.constant(true), weight: Math.round(share * 10_000) });
}

export function planArbitrary(mix: Mix): fc.Arbitrary<SessionPlan> {
  // "basic" first: with cross-shrinking, fast-check shrinks oneof towards its first branch, the plainest session.
  const kinds = SESSION_KINDS.filter((k) => (mix.weights[k] ?? 0) > 0).map((kind) => ({ arbitrary: fc.constant(kind), weight: Math.round((mix.weights[kind] as number) * 100) }));
  return fc
    .record({
      kind: fc.oneof({ withCrossShrink: true }, ...kinds),
      rcpts: fc.integer({ min: mix.rcpts.min, max: mix.rcpts.max }),
      manyRcpts: fc.integer({ min: mix.manyRcpts.min, max: mix.manyRcpts.max }),
      size: logInt(mix.size),
      largeSize: logInt(mix.large),
      multiTransactions: fc.integer({ min: mix.multi.min, max: mix.multi.max }),
      implicit: chance(mix.implicitTls),
      starttls: chance(mix.starttls),
      ipv6: chance(mix.ipv6),
      holdMs: fc.integer({ min: mix.hold.min, max: mix.hold.max }),
      pauseMs: fc.integer({ min: mix.slowloris.pauseMs.min, max: mix.slowloris.pauseMs.max }),
      chunk: fc.integer({ min: mix.slowloris.chunk.min, max: mix.slowloris.chunk.max }),
      // Last, so that adding it left every other field of a seed's plans as it was.
      transactions: fc.integer({ min: mix.transactions.min, max: mix.transactions.max }),
    })
    .map(
      (p): SessionPlan => ({
        kind: p.kind,
        rcpts: p.kind === "many-rcpts" ? p.manyRcpts : p.rcpts,
        size: p.kind === "large" ? p.largeSize : p.size,
        transactions: p.kind === "hold" ? 0 : p.kind === "multi" ? p.multiTransactions : p.transactions,
        tls: p.implicit ? "implicit" : p.starttls ? "starttls" : "none",
        family: p.ipv6 ? 6 : 4,
        // Fields of other kinds are zeroed so a plan (and a shrunk one) reads as what it does.
        holdMs: p.kind === "hold" ? p.holdMs : 0,
        pauseMs: p.kind === "slowloris" ? p.pauseMs : 0,
        chunk: p.kind === "slowloris" ? p.chunk : 0,
      }),
    );
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

  /** The origin of the plan last returned by next(). */
  lastOrigin(): PlanOrigin {
    return { seed: (this.seed + this.batchIndex - 1) | 0, path: String(this.pos - 1) };
  }
}
