// A mergeable log-linear latency histogram (HDR-like): exact below 64 µs, then 32 buckets per
// power of two (relative error under 3.2%), fixed size, so thousands of sessions can each
// record without allocating and a run can merge per-worker histograms cheaply.

const LINEAR = 64;
const PER_OCTAVE = 32;
const MAX_EXP = 36; // values up to 2^36 µs (about 19 hours)
const SIZE = LINEAR + (MAX_EXP - 6) * PER_OCTAVE;

function bucketOf(v: number): number {
  if (v < LINEAR) return v;
  const m = Math.min(Math.floor(Math.log2(v)), MAX_EXP - 1);
  const shift = m - 5;
  const sub = Math.min(Math.floor(v / 2 ** shift), 2 * PER_OCTAVE - 1);
  return LINEAR + (m - 6) * PER_OCTAVE + (sub - PER_OCTAVE);
}

/** Highest value that falls into bucket i (what percentiles report: never an underestimate). */
function upperOf(i: number): number {
  if (i < LINEAR) return i;
  const k = i - LINEAR;
  const m = Math.floor(k / PER_OCTAVE) + 6;
  const sub = (k % PER_OCTAVE) + PER_OCTAVE;
  const shift = m - 5;
  return (sub + 1) * 2 ** shift - 1;
}

export interface HistogramRaw {
  buckets: Array<[number, number]>;
  count: number;
  min: number;
  max: number;
  sum: number;
}

/** The largest relative error of a reported percentile (bucket width over its lower bound): 1/32. */
export const HISTOGRAM_RELATIVE_ERROR = 1 / PER_OCTAVE;

export class Histogram {
  private readonly counts = new Float64Array(SIZE);
  count = 0;
  min = Infinity;
  max = 0;
  sum = 0;

  /** Records one latency in microseconds. */
  record(micros: number): void {
    const v = Math.max(0, Math.round(micros));
    this.counts[bucketOf(v)]! += 1;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  recordMs(ms: number): void {
    this.record(ms * 1000);
  }

  /** The raw buckets, sparse: [bucket, count] pairs; with count/min/max/sum it is the whole histogram. */
  raw(): HistogramRaw {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < SIZE; i++) if (this.counts[i] !== 0) buckets.push([i, this.counts[i] as number]);
    return { buckets, count: this.count, min: this.count === 0 ? 0 : this.min, max: this.max, sum: this.sum };
  }

  static fromRaw(r: HistogramRaw): Histogram {
    const h = new Histogram();
    for (const [i, n] of r.buckets) {
      if (!(Number.isInteger(i) && i >= 0 && i < SIZE && n >= 0)) throw new RangeError(`histogram bucket ${i} (${n}) out of range`);
      h.counts[i] = n;
    }
    h.count = r.count;
    h.min = r.count === 0 ? Infinity : r.min;
    h.max = r.max;
    h.sum = r.sum;
    return h;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < SIZE; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** Value at quantile q (0..1) in microseconds, capped at the exact maximum; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(upperOf(i), this.max);
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  toJSON(): { count: number; min: number; max: number; mean: number; p50: number; p90: number; p99: number; p999: number } {
    return {
      count: this.count,
      min: this.count === 0 ? 0 : this.min,
      max: this.max,
      mean: this.mean(),
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
    };
  }
}
