// `smtpchaos storm merge PART.json...`: the parts of one run (shards, --json results) as one report.
import { EXIT } from "../common/exit-codes.js";
import { parseCli } from "../common/args.js";
import type { ChosenOutputs } from "../common/output.js";
import { reportUserError } from "../common/errors.js";
import { visible } from "../common/visible.js";
import { STORM_OUTPUTS } from "./outputs/index.js";
import type { StormOutcome } from "./outputs/index.js";
import { mergeStorms, StormUnreachableError } from "./run.js";
import type { MergedRun } from "./run.js";

const MERGE_USAGE = `usage: smtpchaos storm merge PART.json... [--threshold EXPR]... [--out KIND[=FILE]]... [--json F] [--html F] [--apart-ok]

Merges the --json results of a run's parts (storm --shard I/N on many machines) into the report
one run would give: counts add up, latency histograms merge bucket by bucket (not averaged), the
timelines line up by wall-clock second, peak concurrency is read from the merged timeline, and
thresholds are judged on the whole. Parts that did not all run at the same time are refused (each
part's start after the earliest is named); --apart-ok merges them anyway, with a note.

exit codes: 0 every threshold passed, 1 a threshold failed, 2 usage error, unreadable or malformed part,
parts that did not overlap, nothing connected in any part (unreachable), or a report that could
not be written`;

export async function mergeMain(argv: string[]): Promise<number> {
  let values;
  let files: string[];
  try {
    ({ values, positionals: files } = parseCli({
      args: argv,
      allowPositionals: true,
      options: { threshold: { type: "string", multiple: true }, out: { type: "string", multiple: true }, json: { type: "string" }, html: { type: "string" }, "apart-ok": { type: "boolean" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (err) {
    console.error(`smtpchaos storm merge: ${(err as Error).message}`);
    return EXIT.usage;
  }
  if (values.help === true) {
    console.log(MERGE_USAGE);
    return EXIT.ok;
  }
  let merged: MergedRun;
  let unreachable: StormUnreachableError<MergedRun> | null = null;
  let outputs: ChosenOutputs<StormOutcome>;
  try {
    outputs = STORM_OUTPUTS.choose({ out: values.out, aliases: { json: values.json, html: values.html } }, { findLimit: false });
    try {
      merged = mergeStorms(files, { apartOk: values["apart-ok"] === true, thresholds: values.threshold ?? [] });
    } catch (err) {
      // nothing connected in any part: the report is still written, then the run is a usage error
      if (!(err instanceof StormUnreachableError)) throw err;
      unreachable = err as StormUnreachableError<MergedRun>;
      merged = unreachable.run;
    }
  } catch (err) {
    return reportUserError(err, "smtpchaos storm merge");
  }
  for (const n of merged.notes) console.error(`storm merge: note: ${visible(n)}`);
  if (!(await outputs.finish({ kind: "storm", result: merged, label: merged.label, thresholds: merged.thresholds, shrunk: null }, "smtpchaos storm merge"))) return EXIT.usage;
  if (unreachable !== null) return reportUserError(unreachable, "smtpchaos storm merge");
  return merged.passed ? EXIT.ok : EXIT.failures;
}
