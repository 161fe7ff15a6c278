// `storm merge`: the --json results of a run's parts (shards on many machines) as one result,
// the same report and threshold verdict one process would give: counts add, histograms add
// bucket by bucket, timelines line up by wall-clock second.
import { UserError } from "../common/errors.js";
import { readFileSync, statSync } from "node:fs";
import { visible } from "../common/visible.js";
import { Histogram } from "./histogram.js";
import type { HistogramRaw } from "./histogram.js";
import { OUTCOMES, PHASES } from "./metrics.js";
import { mergeSnapshots, metricsFrom } from "./snapshot.js";
import type { StormJson } from "./report.js";
import type { StormResult } from "./scheduler.js";

/** A part that cannot be merged: one line, text from the part's file shown escaped. */
export class MergeError extends UserError {}

export interface Merged {
  result: StormResult;
  /** the target as the parts named it */
  label: string;
  /** the parts' targets, each once */
  targets: string[];
  /** what the merge could not vouch for: missing shards, parts of different runs */
  notes: string[];
}

/** A part is a few hundred KB even for an hour's timeline: anything far larger is not one. */
const MAX_PART_BYTES = 64 * 1024 * 1024;

/** Reads one part: a storm --json document with its snapshot. */
export function readPart(file: string): StormJson {
  let doc: unknown;
  try {
    const size = statSync(file).size;
    if (size > MAX_PART_BYTES) throw new MergeError(`${file}: ${size} bytes, more than a storm --json result (at most ${MAX_PART_BYTES})`);
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    if (err instanceof MergeError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new MergeError(`${file}: ${e.code === "ENOENT" ? "no such file" : e.code === "EISDIR" ? "is a directory" : e.message}`);
  }
  const d = doc as Partial<StormJson> | null;
  if (d === null || typeof d !== "object" || Array.isArray(d) || typeof d.snapshot !== "object" || d.snapshot === null) throw new MergeError(`${file}: not a storm --json result with a snapshot (written by smtpchaos storm --json)`);
  const problem = partProblem(d);
  if (problem !== null) throw new MergeError(`${file}: ${problem} (not a storm --json result as smtpchaos storm --json writes it)`);
  return d as StormJson;
}

// The shape of a part, as far as merging reads it: every field of the wrong type is refused by
// name here, not turned into an empty table or a RangeError later.
const typeName = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
const isTime = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function countsProblem(path: string, v: unknown): string | null {
  if (!isObject(v)) return `${path}: expected an object of counts, got ${typeName(v)}`;
  for (const [k, n] of Object.entries(v)) if (!isCount(n)) return `${path}.${k}: expected a count, got ${typeName(n)}`;
  return null;
}

function histogramProblem(path: string, v: unknown): string | null {
  if (!isObject(v)) return `${path}: expected a histogram, got ${typeName(v)}`;
  for (const k of ["count", "min", "max", "sum"]) if (!isCount(v[k])) return `${path}.${k}: expected a number >= 0, got ${typeName(v[k])}`;
  if (!Array.isArray(v.buckets)) return `${path}.buckets: expected an array, got ${typeName(v.buckets)}`;
  for (const [i, b] of (v.buckets as unknown[]).entries()) {
    if (!(Array.isArray(b) && b.length === 2 && b.every(isCount))) return `${path}.buckets[${i}]: expected [bucket, count]`;
  }
  try {
    Histogram.fromRaw(v as unknown as HistogramRaw);
  } catch (err) {
    return `${path}: ${(err as Error).message}`;
  }
  return null;
}

/** The first thing wrong with a part's shape, by its path, or null. */
export function partProblem(d: Record<string, unknown>): string | null {
  if (typeof d.target !== "string") return `target: expected a string, got ${typeName(d.target)}`;
  if (!isTime(d.seed)) return `seed: expected a number, got ${typeName(d.seed)}`;
  if (!isCount(d.durationMs)) return `durationMs: expected a number >= 0, got ${typeName(d.durationMs)}`;
  if (typeof d.interrupted !== "boolean") return `interrupted: expected true or false, got ${typeName(d.interrupted)}`;
  if (d.model !== "open" && d.model !== "closed") return `model: expected "open" or "closed", got ${typeName(d.model)}`;
  if (d.failure !== undefined && d.failure !== null && !isObject(d.failure)) return `failure: expected an object or null, got ${typeName(d.failure)}`;
  if (d.startedAt !== undefined && !isTime(d.startedAt)) return `startedAt: expected a number, got ${typeName(d.startedAt)}`;
  if (d.shard !== undefined) {
    const sh = d.shard;
    if (!isObject(sh)) return `shard: expected an object, got ${typeName(sh)}`;
    if (!(Number.isInteger(sh.count) && (sh.count as number) >= 1)) return `shard.count: expected an integer >= 1, got ${typeName(sh.count)}`;
    if (!(Number.isInteger(sh.index) && (sh.index as number) >= 0 && (sh.index as number) < (sh.count as number))) return `shard.index: expected an integer from 0 to shard.count - 1`;
    if (!isTime(sh.runSeed)) return `shard.runSeed: expected a number, got ${typeName(sh.runSeed)}`;
  }
  const s = d.snapshot as Record<string, unknown>;
  if (s.version !== 1) return `snapshot.version: expected 1, got ${typeof s.version === "number" ? s.version : typeName(s.version)}`;
  if (!isObject(s.phases)) return `snapshot.phases: expected an object of histograms, got ${typeName(s.phases)}`;
  for (const [p, h] of Object.entries(s.phases)) {
    if (!(PHASES as readonly string[]).includes(p)) return `snapshot.phases.${p}: not a phase (${PHASES.join(", ")})`;
    const problem = histogramProblem(`snapshot.phases.${p}`, h);
    if (problem !== null) return problem;
  }
  for (const k of ["codes", "enhanced", "transports", "kinds", "outcomes"]) {
    const problem = countsProblem(`snapshot.${k}`, s[k]);
    if (problem !== null) return problem;
  }
  for (const o of Object.keys(s.outcomes as object)) if (!(OUTCOMES as readonly string[]).includes(o)) return `snapshot.outcomes.${o}: not an outcome`;
  for (const k of ["sessions", "started", "accepted", "dropped", "inFlight", "holding", "maxConcurrency", "maxHolding"]) {
    if (!isCount(s[k])) return `snapshot.${k}: expected a number >= 0, got ${typeName(s[k])}`;
  }
  if (!Array.isArray(s.timeline)) return `snapshot.timeline: expected an array, got ${typeName(s.timeline)}`;
  for (const [i, pt] of (s.timeline as unknown[]).entries()) {
    if (!isObject(pt)) return `snapshot.timeline[${i}]: expected an object, got ${typeName(pt)}`;
    if (!isTime(pt.at)) return `snapshot.timeline[${i}].at: expected a number, got ${typeName(pt.at)}`;
    for (const k of ["started", "completed", "accepted", "errors", "concurrency", "dropped"]) {
      if (!isCount(pt[k])) return `snapshot.timeline[${i}].${k}: expected a number >= 0, got ${typeName(pt[k])}`;
    }
    if (pt.holding !== undefined && !isCount(pt.holding)) return `snapshot.timeline[${i}].holding: expected a number >= 0, got ${typeName(pt.holding)}`;
  }
  return null;
}

/** Seconds with one decimal: "12.3 s". */
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Parts starting further apart than this are flagged even when they overlap. */
const LATE_NOTE_MS = 1000;

export interface MergeOptions {
  /** merge parts that did not run at the same time (noted) instead of refusing them */
  apartOk?: boolean;
}

/** When a part ran: its recorded start (ms), else its timeline's first second; and how long. */
function spanOf(doc: StormJson): { start: number; end: number } {
  const start = doc.startedAt ?? (doc.snapshot.timeline[0]?.at ?? 0) * 1000;
  return { start, end: start + doc.durationMs };
}

/**
 * Parts of one run overlap in time (a shard that started late, or a result of another day, would
 * add load that never ran at once): refused unless `apartOk` (then noted); parts that overlap
 * but started more than a second apart are noted with their lateness.
 */
function checkOverlap(parts: ReadonlyArray<{ file: string; doc: StormJson }>, o: MergeOptions, notes: string[]): void {
  if (parts.length < 2) return;
  const spans = parts.map((p) => ({ file: p.file, ...spanOf(p.doc) }));
  const earliest = Math.min(...spans.map((x) => x.start));
  const latestStart = Math.max(...spans.map((x) => x.start));
  const earliestEnd = Math.min(...spans.map((x) => x.end));
  const each = spans.map((x) => `${x.file} +${secs(x.start - earliest)} (ran ${secs(x.end - x.start)})`).join(", ");
  if (latestStart >= earliestEnd) {
    const text = `the parts did not all run at the same time (start after the earliest: ${each})`;
    if (o.apartOk !== true) throw new MergeError(`${text}; --apart-ok merges them anyway`);
    notes.push(`${text}: merged anyway (--apart-ok); rates and peak concurrency are not one run's`);
  } else if (latestStart - earliest > LATE_NOTE_MS) {
    notes.push(`the parts started up to ${secs(latestStart - earliest)} apart (start after the earliest: ${each})`);
  }
}

export function mergeParts(parts: ReadonlyArray<{ file: string; doc: StormJson }>, o: MergeOptions = {}): Merged {
  if (parts.length === 0) throw new MergeError("nothing to merge: give the --json files of the parts");
  const notes: string[] = [];
  const shards = parts.map((p) => p.doc.shard);
  const counts = new Set(shards.map((s) => s?.count ?? 1));
  const runSeeds = new Set(parts.map((p) => p.doc.shard?.runSeed ?? p.doc.seed));
  if (runSeeds.size > 1) notes.push(`the parts come from different runs (seeds ${[...runSeeds].join(", ")}): their sum is not one run's`);
  const seen = new Map<number, string>();
  for (const p of parts) {
    const s = p.doc.shard;
    if (s === undefined) continue;
    const twice = seen.get(s.index);
    // the same shard twice would count its sessions twice
    if (twice !== undefined && runSeeds.size === 1) throw new MergeError(`${p.file} and ${twice} are both shard ${s.index + 1}/${s.count}`);
    seen.set(s.index, p.file);
  }
  if (counts.size === 1 && runSeeds.size === 1) {
    const n = [...counts][0] as number;
    const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !seen.has(i));
    if (n > 1 && missing.length > 0) notes.push(`shards ${missing.map((i) => `${i + 1}/${n}`).join(", ")} are missing: the report covers ${n - missing.length} of ${n}`);
  }
  checkOverlap(parts, o, notes);
  const models = new Set(parts.map((p) => p.doc.model));
  if (models.size > 1) notes.push(`the parts ran different load models (${[...models].join(", ")})`);
  const snapshot = mergeSnapshots(parts.map((p) => p.doc.snapshot));
  const failures = parts.map((p) => p.doc.failure).filter((f) => f !== null && f !== undefined);
  const first = parts[0]?.doc as StormJson;
  const result: StormResult = {
    metrics: metricsFrom(snapshot),
    startedAt: (snapshot.timeline[0]?.at ?? 0) * 1000,
    seed: first.shard?.runSeed ?? first.seed,
    durationMs: Math.max(...parts.map((p) => p.doc.durationMs)),
    interrupted: parts.some((p) => p.doc.interrupted),
    model: first.model,
    failure: failures[0] ?? null,
  };
  const targets = [...new Set(parts.map((p) => p.doc.target))];
  return { result, label: `${visible(targets.join(", "))} (${parts.length} part${parts.length === 1 ? "" : "s"} merged)`, targets, notes };
}
