// The one source of randomness of every tool. Counter-based: draw n of a stream is a pure
// function of (seed, stream name, n, lane), so a fault point's decisions never depend on how its
// calls interleave with other points' calls, draws in one test-case do not shift when another is
// filtered out, and a run replays exactly from its seed.
import { randomBytes } from "node:crypto";
import { UsageError } from "./errors.js";

/** A run seed: a 32-bit unsigned integer, printed in every report. */
export type Seed = number;

export function randomSeed(): Seed {
  return randomBytes(4).readUInt32BE(0);
}

/**
 * The one seed syntax of every tool: a decimal integer (negative too, as older reports and
 * fast-check print them: taken modulo 2^32, so `-5` and `4294967291` are the same run), a 0x-hex
 * integer, or any other text, hashed (`--seed nightly-42`). Every seed a tool prints is a decimal
 * below 2^32, so it replays as printed. Empty text is the only error (a UsageError).
 */
export function parseSeed(text: string): Seed {
  const t = text.trim();
  if (t === "") throw new UsageError("--seed: a seed cannot be empty");
  if (/^-?\d+$/.test(t)) {
    const n = Number(t);
    if (Number.isSafeInteger(n)) return normalizeSeed(n);
  }
  if (/^0x[0-9a-f]{1,8}$/i.test(t)) return Number.parseInt(t.slice(2), 16) >>> 0;
  return hashString(t, 0x9e3779b9);
}

/** Any integer as the seed it stands for (modulo 2^32), for seeds computed with `| 0` arithmetic. */
export function normalizeSeed(n: number): Seed {
  return Number(BigInt.asUintN(32, BigInt(Math.trunc(n))));
}

/** The seed of the stream named by `labels` below `seed`: a test-case's name, a storm's part. */
export function deriveSeed(seed: Seed, ...labels: string[]): Seed {
  return hashString(labels.join("\u0000"), seed);
}

/** murmur3's 32-bit finalizer: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function combine(h: number, v: number): number {
  h ^= fmix32(v + 0x9e3779b9 + ((h << 6) >>> 0) + (h >>> 2));
  return fmix32(h);
}

export function hashString(s: string, seed = 0): number {
  let h = fmix32(seed ^ 0x5bd1e995);
  for (let i = 0; i < s.length; i++) h = combine(h, s.charCodeAt(i));
  return combine(h, s.length);
}

/** One named stream of a run. Each draw is addressed by (index, lane); lanes separate the several
 * numbers a single decision needs (fire?, which action?, latency...) so adding a lane never shifts another. */
export class Stream {
  private readonly key: number;
  private readonly key2: number;

  constructor(readonly seed: Seed, readonly name: string) {
    this.key = hashString(name, seed);
    this.key2 = hashString(name, seed ^ 0x6a09e667);
  }

  /** Uniform in [0, 1) with 53 bits of resolution. */
  uniform(index: number, lane = 0): number {
    const lo = index >>> 0;
    const hi = Math.floor(index / 0x100000000) >>> 0;
    const a = combine(combine(combine(this.key, lo), hi), lane);
    const b = combine(combine(combine(this.key2, lane), lo), hi);
    return ((a >>> 5) * 67108864 + (b >>> 6)) / 9007199254740992;
  }

  /** Standard normal via Box-Muller over two lanes. */
  normal(index: number, lane = 0): number {
    const u1 = 1 - this.uniform(index, lane * 2 + 100);
    const u2 = this.uniform(index, lane * 2 + 101);
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Integer in [0, n). */
  int(index: number, n: number, lane = 0): number {
    return Math.min(n - 1, Math.floor(this.uniform(index, lane) * n));
  }
}

/** A sequential generator over a stream, for code that just needs "the next number" (e.g. the flood's mail mix). */
export class Rng {
  private n = 0;
  private readonly stream: Stream;
  /** the stream named by `labels` (a test-case's name, "delay") below `seed` */
  constructor(seed: Seed, ...labels: string[]) {
    this.stream = new Stream(seed, labels.join("\u0000"));
  }
  next(): number {
    return this.stream.uniform(this.n++);
  }
  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.next() * n));
  }
  /** `bytes` random bytes as lower-case hex */
  hex(bytes: number): string {
    let out = "";
    for (let i = 0; i < bytes; i++) out += this.int(256).toString(16).padStart(2, "0");
    return out;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[this.int(items.length)] as T;
  }
}
