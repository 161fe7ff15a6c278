// Splitting one storm into parts (worker threads, shards on other machines, or both) like k6's
// execution segments: each part gets its share of sessions, arrivals and bounds, and a seed
// derived from the run's, so the parts together are the run and each part replays alone.
import type { StormOptions } from "./scheduler.js";
import { deriveSeed, type Seed } from "../common/rng.js";

/** Part `index` of `count` (0-based). */
export interface Segment {
  index: number;
  count: number;
}

/** Part `seg`'s share of an integer total: the shares add up to the total exactly. */
export function shareOf(total: number, seg: Segment): number {
  return Math.floor((total * (seg.index + 1)) / seg.count) - Math.floor((total * seg.index) / seg.count);
}

/** A seed for part `seg` of a run seeded `seed`; one part keeps the run's own. */
export function partSeed(seed: Seed, seg: Segment): Seed {
  return seg.count === 1 ? seed : deriveSeed(seed, "part", String(seg.index), String(seg.count));
}

/** Parses "I/N" (1-based, as users count shards): part I-1 of N. */
export function parseShard(text: string): Segment {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const i = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (m === null || !(n >= 1 && n <= 100_000 && i >= 1 && i <= n)) throw new RangeError(`--shard expects I/N with 1 <= I <= N, got "${text}"`);
  return { index: i - 1, count: n };
}

/** The options of one part: its share of the load and of every bound, and its own seed. */
export function segmentOptions(o: StormOptions, seg: Segment): StormOptions {
  if (seg.count === 1) return o;
  const open = (o.model ?? (o.rate !== undefined ? "open" : "closed")) === "open";
  const level = (v: number): number => (open ? v / seg.count : shareOf(v, seg));
  const out: StormOptions = { ...o, seed: partSeed(o.seed, seg) };
  if (o.concurrency !== undefined) out.concurrency = shareOf(o.concurrency, seg);
  if (o.rate !== undefined) out.rate = o.rate / seg.count;
  if (o.stages !== undefined) out.stages = o.stages.map((s) => ({ durationMs: s.durationMs, target: level(s.target) }));
  if (o.maxSessions !== undefined) out.maxSessions = shareOf(o.maxSessions, seg);
  if (o.maxMessages !== undefined) out.maxMessages = Math.max(1, shareOf(o.maxMessages, seg));
  if (o.maxInFlight !== undefined) out.maxInFlight = Math.max(1, shareOf(o.maxInFlight, seg));
  return out;
}
