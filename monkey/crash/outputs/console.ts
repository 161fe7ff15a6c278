// The per-model table, the findings and the verdict (stdout, unless sent elsewhere).
import { textOutput } from "../../../common/output.js";
import { crashText } from "./text.js";
import type { CrashOutputKind } from "./kind.js";

export const consoleOutput: CrashOutputKind = {
  name: "console",
  summary: "the per-model table, each finding explained, the verdict (stdout, unless sent elsewhere)",
  create: (to) => textOutput(to, (r) => crashText(r) + "\n"),
};
