// The report for machines (--json FILE): the StormJson document, or a find-limit's steps.
import { textOutput } from "../../common/output.js";
import { toJson } from "../report.js";
import type { StormJson } from "../report.js";
import type { StormOutputKind, StormRun } from "./outcome.js";

/** The JSON report of one storm; also what the HTML report is built from. */
export function stormJson(o: StormRun): StormJson {
  return toJson(o.result, o.label, o.thresholds, o.shrunk === null ? {} : { shrunk: o.shrunk });
}

export const jsonOutput: StormOutputKind = {
  name: "json",
  summary: "the report as JSON (latencies, codes, timeline, thresholds)",
  create: (to) => textOutput(to, (o) => JSON.stringify(o.kind === "storm" ? stormJson(o) : { target: o.label, seed: o.seed, findLimit: o.result }, null, 2) + "\n"),
};
