// `storm merge`: the --json results of a run's parts (shards on many machines) as one result,
// the same report and threshold verdict one process would give: counts add, histograms add
// bucket by bucket, timelines line up by wall-clock second.
import { readFileSync, statSync } from "node:fs";
import { mergeSnapshots, metricsFrom } from "./snapshot.js";
import type { StormJson } from "./report.js";
import type { StormResult } from "./scheduler.js";

export class MergeError extends Error {}

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
  if (d === null || typeof d !== "object" || typeof d.snapshot !== "object" || d.snapshot === null) throw new MergeError(`${file}: not a storm --json result with a snapshot (written by smtpchaos storm --json)`);
  return d as StormJson;
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
  return { result, label: `${targets.join(", ")} (${parts.length} part${parts.length === 1 ? "" : "s"} merged)`, targets, notes };
}
