// What each storm session does, drawn from a declared mix with fast-check arbitraries from one
// seed: the same seed and mix give the same sequence of session plans, so a run replays.
import fc from "fast-check";

export const SESSION_KINDS = ["basic", "pipelined", "multi", "abort-data", "abort-after-dot", "garbage"] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

export interface SessionPlan {
  kind: SessionKind;
  /** recipients per transaction */
  rcpts: number;
  /** message body bytes */
  size: number;
  /** transactions in the session (RSET between them for "multi") */
  transactions: number;
  starttls: boolean;
}

export interface Mix {
  /** relative weights; kinds left out do not occur */
  weights: Partial<Record<SessionKind, number>>;
  /** message sizes: bytes, drawn log-uniformly between min and max */
  size: { min: number; max: number };
  rcpts: { min: number; max: number };
  /** share of sessions that upgrade with STARTTLS when the server offers it (0..1) */
  starttls: number;
}

export const DEFAULT_MIX: Mix = {
  weights: { basic: 70, pipelined: 15, multi: 5, "abort-data": 4, "abort-after-dot": 3, garbage: 3 },
  size: { min: 200, max: 64 * 1024 },
  rcpts: { min: 1, max: 3 },
  starttls: 0,
};

export class MixError extends Error {}

export function validateMix(m: unknown): Mix {
  const mix = { ...DEFAULT_MIX, ...(m as Partial<Mix>) };
  const bad = (why: string): never => {
    throw new MixError(`mix: ${why}`);
  };
  for (const [k, w] of Object.entries(mix.weights)) {
    if (!(SESSION_KINDS as readonly string[]).includes(k)) bad(`unknown session kind "${k}" (${SESSION_KINDS.join(", ")})`);
    if (typeof w !== "number" || !(w >= 0)) bad(`weight of ${k} must be a number >= 0`);
  }
  if (Object.values(mix.weights).every((w) => (w ?? 0) === 0)) bad("every weight is 0");
  if (!(mix.size.min >= 0 && mix.size.max >= mix.size.min)) bad("size needs 0 <= min <= max");
  if (!(mix.rcpts.min >= 1 && mix.rcpts.max >= mix.rcpts.min)) bad("rcpts needs 1 <= min <= max");
  if (!(mix.starttls >= 0 && mix.starttls <= 1)) bad("starttls is a share between 0 and 1");
  return mix;
}

export function planArbitrary(mix: Mix): fc.Arbitrary<SessionPlan> {
  const kinds = Object.entries(mix.weights)
    .filter(([, w]) => (w ?? 0) > 0)
    .map(([kind, weight]) => ({ arbitrary: fc.constant(kind as SessionKind), weight: Math.round((weight as number) * 100) }));
  const logMin = Math.log(Math.max(1, mix.size.min));
  const logMax = Math.log(Math.max(1, mix.size.max));
  return fc.record({
    kind: fc.oneof(...kinds),
    rcpts: fc.integer({ min: mix.rcpts.min, max: mix.rcpts.max }),
    size: fc.double({ min: logMin, max: logMax, noNaN: true }).map((l) => Math.max(mix.size.min, Math.min(mix.size.max, Math.round(Math.exp(l))))),
    transactions: fc.integer({ min: 2, max: 4 }),
    starttls: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }).map((x) => x < mix.starttls),
  }).map((p) => ({ ...p, transactions: p.kind === "multi" ? p.transactions : 1 }));
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
}
