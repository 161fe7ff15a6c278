// What `report matrix` keeps of each target: its judged suite results and its SweepReport, as
// they came out of `suite run`'s and `monkey sweep`'s own library calls, or why either is missing.
// These records are what --save writes and --from reads; the page is built from them alone.
import type { JudgedResult } from "../../smtpscript/suites.js";
import type { ConnectionTranscript } from "../../smtpscript/result.js";
import type { SweepReport } from "../../monkey/sweep/sweep.js";

export interface SuitesRecord {
  kind: "suites";
  target: string;
  /** how the run named it, e.g. "embedded (127.0.0.1:40211)" */
  label: string;
  startedAt: string;
  durationMs: number;
  /** the expectations file that judged it; null: none (every failure counts) */
  expectations: string | null;
  interrupted: boolean;
  judged: JudgedResult[];
}

/** One column of the matrix. */
export interface TargetRecord {
  /** the target's name (a target file's name, not its path) */
  name: string;
  /** as --targets gave it */
  ref: string;
  /** why nothing was run for it (not installed, needs root, interrupted before its turn) */
  unavailable: string | null;
  suites: SuitesRecord | null;
  /** why the suites did not run (the target did not start...) */
  suitesError: string | null;
  sweep: SweepReport | null;
  sweepError: string | null;
}

/** Entries of a transcript kept, and characters of each entry's data. */
const HEAD_ENTRIES = 20;
const TAIL_ENTRIES = 60;
const ENTRY_CHARS = 1000;

function slimTranscript(t: ConnectionTranscript): ConnectionTranscript {
  const cut = (data: string): string => (data.length <= ENTRY_CHARS ? data : `${data.slice(0, ENTRY_CHARS)}... (${data.length - ENTRY_CHARS} more characters)`);
  const entries = t.entries.length <= HEAD_ENTRIES + TAIL_ENTRIES ? t.entries : [...t.entries.slice(0, HEAD_ENTRIES), { dir: "info" as const, at: t.entries[HEAD_ENTRIES]?.at ?? 0, data: `(${t.entries.length - HEAD_ENTRIES - TAIL_ENTRIES} entries left out)` }, ...t.entries.slice(-TAIL_ENTRIES)];
  return { ...t, entries: entries.map((e) => ({ ...e, data: cut(e.data) })) };
}

/**
 * A judged result as saved: transcripts only where the verdict is not a pass or a skip, and
 * bounded there (the size check alone sends megabytes, all of it in its transcript).
 */
export function slimJudged(j: JudgedResult): JudgedResult {
  const keep = j.verdict !== "passed" && j.verdict !== "skipped";
  return { ...j, result: { ...j.result, transcripts: keep ? j.result.transcripts.map(slimTranscript) : [] } };
}
