// The whole run for machines: every result with its failure and transcripts.
import { textOutput } from "../../common/output.js";
import type { ReporterKind } from "./kind.js";

export const jsonReporter: ReporterKind = {
  name: "json",
  summary: "the whole run as JSON",
  create: (to) => textOutput(to, (run) => JSON.stringify(run, null, 2) + "\n"),
};
