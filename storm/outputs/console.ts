// The summary tables people read at the end of a run (stdout unless sent elsewhere).
import { textOutput } from "../../common/output.js";
import { findLimitText, summaryText } from "../report.js";
import type { StormOutputKind } from "./outcome.js";

export const consoleOutput: StormOutputKind = {
  name: "console",
  summary: "the summary tables (stdout, unless sent elsewhere)",
  create: (to) => textOutput(to, (o) => (o.kind === "storm" ? summaryText(o.result, o.label, o.thresholds) : findLimitText(o.result, o.label)) + "\n"),
};
