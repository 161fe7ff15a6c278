// A storm and a storm merge with their verdict: the engine (scheduler.ts) with the CLI's policy around it, so a
// test suite gets the CLI's verdict: the loopback policy, "unreachable" as an error rather than a
// result, and thresholds written as on the command line.
import { assertLoopback } from "../common/loopback.js";
import { UnreachableError } from "../common/errors.js";
import { runStorm as runEngine } from "./scheduler.js";
import type { StormOptions, StormResult } from "./scheduler.js";
import { parseThreshold } from "./thresholds.js";
import type { Threshold } from "./thresholds.js";
import { evaluate } from "./report.js";
import type { ThresholdResult } from "./report.js";
import { unreachableText, whereOf } from "./reach.js";
import { mergeParts, readPart } from "./merge.js";
import { STORM_OUTPUTS } from "./outputs/index.js";
import type { Merged, MergeOptions } from "./merge.js";

export interface StormRunOptions extends StormOptions {
  /** send load off loopback (refused otherwise, as by every CLI: a RemoteTargetError) */
  allowRemote?: boolean;
  /** pass/fail criteria in the CLI's --threshold syntax ("p99(dot)<500ms", "rate(ungraceful)==0") */
  thresholds?: readonly (string | Threshold)[];
}

export interface StormRun extends StormResult {
  /** each threshold with its measured value */
  thresholds: ThresholdResult[];
  /** every threshold held (true without thresholds) and the run was not interrupted */
  passed: boolean;
}

/** Thrown when no session connected; carries the judged run, as the CLI's exit 2 still writes its report. */
export class StormUnreachableError<R extends StormRun = StormRun> extends UnreachableError {
  constructor(
    message: string,
    readonly run: R,
  ) {
    super(message);
  }
}

/**
 * Runs a storm as `smtpchaos storm` does. Throws a ThresholdError for a bad threshold and a
 * RemoteTargetError for a non-loopback host before any traffic, and a StormUnreachableError when
 * nothing connected (a closed port stops the run after its first 10 refused sessions).
 */
export async function runStorm(o: StormRunOptions): Promise<StormRun> {
  const thresholds = parseThresholds(o.thresholds);
  for (const host of [o.target.host, o.target.host6]) if (host !== undefined) assertLoopback(host, o.allowRemote === true);
  const result = await runEngine(o);
  return judge(result, thresholds, unreachableText(result.metrics, whereOf(o.target, o.mix), result.unreachable));
}

export interface MergeStormsOptions extends MergeOptions {
  thresholds?: readonly (string | Threshold)[];
}

/**
 * `smtpchaos storm merge`: the --json files of a run's parts (--workers, --shard I/N) as one run,
 * judged by `thresholds`. Throws a MergeError for parts that cannot be one run (missing, apart in
 * time, the same shard twice) and a StormUnreachableError when nothing connected in any part.
 */
export function mergeStorms(files: readonly string[], o: MergeStormsOptions = {}): MergedRun {
  const thresholds = parseThresholds(o.thresholds);
  const merged = mergeParts(
    files.map((file) => ({ file, doc: readPart(file) })),
    o,
  );
  const unreachable = unreachableText(merged.result.metrics, merged.targets.join(", "));
  const result = Object.assign(merged.result, { label: merged.label, targets: merged.targets, notes: merged.notes });
  return judge(result, thresholds, unreachable === null ? null : `${unreachable} in any part`);
}

export type MergedRun = StormRun & Pick<Merged, "label" | "targets" | "notes">;

/**
 * Writes a run's reports as `storm --out` does: `["html=storm.html", "junit=storm.xml", "json=-"]`.
 * A spec that cannot be written is a UsageError before anything is written; one that fails while
 * writing is one after the others were written.
 */
export async function writeStormReports(run: StormRun, outputs: readonly string[], label = "storm"): Promise<void> {
  const chosen = STORM_OUTPUTS.choose({ out: [...outputs] }, { findLimit: false });
  await chosen.finishOrThrow({ kind: "storm", result: run, label, thresholds: run.thresholds, shrunk: null });
}

function parseThresholds(list: StormRunOptions["thresholds"]): Threshold[] {
  return (list ?? []).map((t) => (typeof t === "string" ? parseThreshold(t) : t));
}

function judge<R extends StormResult>(result: R, thresholds: readonly Threshold[], unreachable: string | null): R & StormRun {
  const judged = evaluate(thresholds, result.metrics);
  const run = Object.assign(result, { thresholds: judged, passed: unreachable === null && !result.interrupted && judged.every((t) => t.ok) });
  if (unreachable !== null && !result.interrupted) throw new StormUnreachableError(unreachable, run);
  return run;
}
