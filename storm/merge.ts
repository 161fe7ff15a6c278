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

export function mergeParts(parts: ReadonlyArray<{ file: string; doc: StormJson }>): Merged {
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
  return { result, label: `${targets.join(", ")} (${parts.length} part${parts.length === 1 ? "" : "s"} merged)`, notes };
}
