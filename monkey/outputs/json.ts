// The whole MonkeyReport for machines (--json FILE).
import { textOutput } from "../../common/output.js";
import type { MonkeyOutputKind } from "./kind.js";

export const jsonOutput: MonkeyOutputKind = {
  name: "json",
  summary: "the whole report as JSON",
  create: (to) => textOutput(to, (r) => JSON.stringify(r, null, 2) + "\n"),
};
