// One seed, many independent streams: a stream is named by labels (a test-case's name, "delay"),
// so draws in one test-case do not shift when another is filtered out, reordered or run in
// parallel, and `--seed S` replays a run exactly.
import { randomBytes } from "node:crypto";

/** A run seed: a 32-bit unsigned integer, printed in every report. */
export type Seed = number;

export function randomSeed(): Seed {
  return randomBytes(4).readUInt32BE(0);
}

/** A decimal or 0x-hex integer below 2^32; null for anything else (a typo must not silently become another seed). */
export function parseSeed(text: string): Seed | null {
  const t = text.trim();
  if (/^\d{1,10}$/.test(t) && Number(t) <= 0xffffffff) return Number(t);
  if (/^0x[0-9a-f]{1,8}$/i.test(t)) return Number.parseInt(t.slice(2), 16) >>> 0;
  return null;
}

/** The seed of the stream `labels` below `seed` (FNV-1a over the labels, then an avalanche mix). */
export function deriveSeed(seed: Seed, ...labels: string[]): Seed {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (const label of labels) {
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    h = Math.imul(h ^ 0xff, 0x01000193) >>> 0;
  }
  return mix(h ^ seed);
}

function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** mulberry32: small, fast, and good enough for choosing branches and delays (not for secrets). */
export class SeededRng {
  private state: number;

  constructor(readonly seed: Seed) {
    this.state = seed >>> 0;
  }

  /** a uniform 32-bit unsigned integer */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** a uniform integer in [0, n) for n >= 1 */
  below(n: number): number {
    return Math.floor((this.nextUint32() / 0x1_0000_0000) * n);
  }

  /** `bytes` random bytes as lower-case hex */
  hex(bytes: number): string {
    let out = "";
    for (let i = 0; i < bytes; i++) out += (this.nextUint32() & 0xff).toString(16).padStart(2, "0");
    return out;
  }
}
