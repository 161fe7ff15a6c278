// The sweep's tables and verdict (stdout, unless sent elsewhere).
import { textOutput } from "../../../common/output.js";
import { sweepText } from "./text.js";
import type { SweepOutputKind } from "./kind.js";

export const consoleOutput: SweepOutputKind = {
  name: "console",
  summary: "the coverage matrix, the findings and the verdict (stdout, unless sent elsewhere)",
  create: (to) => textOutput(to, (r) => sweepText(r) + "\n"),
};
