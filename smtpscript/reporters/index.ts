// smtpscript's reporters (--reporter NAME[=FILE]), outputs on common/output.ts's contract. A
// reporter is one unit in this folder plus one line in DOCUMENTS (or the console); help texts,
// --reporter and suite run's reporters read these lists.
import { OutputRegistry } from "../../common/output.js";
import type { RunResult, TestResult } from "../result.js";
import { consoleReporter } from "./console.js";
import type { ReporterContext, ReporterKind } from "./kind.js";
import { jsonReporter } from "./json.js";
import { junitReporter } from "./junit.js";
import { tapReporter } from "./tap.js";

export type { ReporterContext, ReporterKind } from "./kind.js";

/** The reporters that write one document of the run (suite run offers them too). */
export const DOCUMENTS: readonly ReporterKind[] = [
  tapReporter,
  junitReporter,
  jsonReporter,
];

export const REPORTER_FLAG = { flag: "--reporter", noun: "reporter" };

export const REPORTERS = new OutputRegistry<RunResult, ReporterContext, TestResult>([consoleReporter, ...DOCUMENTS], "console", REPORTER_FLAG);
