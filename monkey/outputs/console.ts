// The report people read: tables per fault point, findings, ledger, verdict (stdout by default).
import { textOutput } from "../../common/output.js";
import { monkeyText } from "../report.js";
import type { MonkeyOutputKind } from "./kind.js";

export const consoleOutput: MonkeyOutputKind = {
  name: "console",
  summary: "the tables and the verdict (stdout, unless sent elsewhere)",
  create: (to) => textOutput(to, (r) => monkeyText(r) + "\n"),
};
