// --save DIR and --from DIR: each target's records as JSON, so a page is rebuilt without running
// anything. DIR/index.json lists the columns in order (with why a part did not run);
// DIR/NAME.suites.json holds the judged suite results, DIR/NAME.sweep.json the SweepReport exactly
// as `monkey sweep --out json` writes it.
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../common/errors.js";
import type { SweepReport } from "../../monkey/sweep/sweep.js";
import type { SuitesRecord, TargetRecord } from "./records.js";

const INDEX = "index.json";
const KIND = "smtpchaos-matrix";

interface IndexEntry {
  name: string;
  ref: string;
  unavailable: string | null;
  suites: string | null;
  suitesError: string | null;
  sweep: string | null;
  sweepError: string | null;
}

/** A file name of a target's own (a target file's name may hold anything a file name can). */
function fileOf(name: string, part: "suites" | "sweep"): string {
  return `${name.replace(/[^A-Za-z0-9._-]/g, "_")}.${part}.json`;
}

/** Creates DIR before anything runs: a directory that cannot be written costs no run. */
export function prepareSaveDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new UsageError(`--save ${dir}: ${(err as Error).message}`);
  }
}

/** Writes the records so far (called after every target, so an interruption keeps what completed). */
export function saveRecords(dir: string, records: readonly TargetRecord[]): void {
  const index: IndexEntry[] = records.map((r) => {
    const suites = r.suites === null ? null : fileOf(r.name, "suites");
    const sweep = r.sweep === null ? null : fileOf(r.name, "sweep");
    if (suites !== null) writeFileSync(join(dir, suites), JSON.stringify(r.suites, null, 2) + "\n");
    if (sweep !== null) writeFileSync(join(dir, sweep), JSON.stringify(r.sweep, null, 2) + "\n");
    return { name: r.name, ref: r.ref, unavailable: r.unavailable, suites, suitesError: r.suitesError, sweep, sweepError: r.sweepError };
  });
  writeFileSync(join(dir, INDEX), JSON.stringify({ kind: KIND, targets: index }, null, 2) + "\n");
}

function readJson(dir: string, file: string): unknown {
  const path = join(dir, file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`--from ${dir}: ${file}: ${code === "ENOENT" ? "no such file (was the directory written by --save?)" : (err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`--from ${dir}: ${file}: not JSON (${(err as Error).message})`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isTextOrNull = (v: unknown): v is string | null => v === null || typeof v === "string";

function entryOf(dir: string, v: unknown, i: number): IndexEntry {
  const ok = isObject(v) && typeof v.name === "string" && typeof v.ref === "string" && ["unavailable", "suites", "suitesError", "sweep", "sweepError"].every((k) => isTextOrNull(v[k]));
  if (!ok) throw new UsageError(`--from ${dir}: ${INDEX}: target ${i + 1} is malformed (name, ref, unavailable, suites, suitesError, sweep, sweepError)`);
  // the files it names live in DIR itself
  for (const k of ["suites", "sweep"]) if (typeof v[k] === "string" && /[/\\]/.test(v[k])) throw new UsageError(`--from ${dir}: ${INDEX}: target ${i + 1}: ${k} names a file outside the directory`);
  return v as unknown as IndexEntry;
}

function suitesOf(dir: string, file: string): SuitesRecord {
  const v = readJson(dir, file);
  if (!isObject(v) || v.kind !== "suites" || !Array.isArray(v.judged) || typeof v.durationMs !== "number") throw new UsageError(`--from ${dir}: ${file}: not saved suite results (kind "suites" with judged[])`);
  return v as unknown as SuitesRecord;
}

function sweepOf(dir: string, file: string): SweepReport {
  const v = readJson(dir, file);
  if (!isObject(v) || v.kind !== "sweep" || !Array.isArray(v.failureIds) || !Array.isArray(v.matrix)) throw new UsageError(`--from ${dir}: ${file}: not a SweepReport (kind "sweep" with failureIds[] and matrix[])`);
  return v as unknown as SweepReport;
}

/** The records saved in `dir`, in their column order; a UsageError names the file and what is wrong. */
export function loadRecords(dir: string): TargetRecord[] {
  const index = readJson(dir, INDEX);
  if (!isObject(index) || index.kind !== KIND || !Array.isArray(index.targets)) throw new UsageError(`--from ${dir}: ${INDEX}: not a matrix index (kind "${KIND}" with targets[])`);
  return index.targets.map((raw, i) => {
    const e = entryOf(dir, raw, i);
    return {
      name: e.name,
      ref: e.ref,
      unavailable: e.unavailable,
      suites: e.suites === null ? null : suitesOf(dir, e.suites),
      suitesError: e.suitesError,
      sweep: e.sweep === null ? null : sweepOf(dir, e.sweep),
      sweepError: e.sweepError,
    };
  });
}
