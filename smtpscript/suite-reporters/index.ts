// suite run's reporters (--reporter NAME[=FILE]): its own console, and every document reporter
// of smtpscript (reporters/index.ts) reading the judged results, so a new one serves both.
import { OutputRegistry, readingFrom } from "../../common/output.js";
import { DOCUMENTS, REPORTER_FLAG } from "../reporters/index.js";
import type { JudgedResult } from "../suites.js";
import { suiteConsole } from "./console.js";
import type { SuiteReport, SuiteReporterContext } from "./kind.js";

export type { SuiteReport, SuiteReporterContext } from "./kind.js";

export const SUITE_REPORTERS = new OutputRegistry<SuiteReport, SuiteReporterContext, JudgedResult>(
  [suiteConsole, ...DOCUMENTS.map((kind) => readingFrom(kind, (report: SuiteReport) => report.run))],
  "console",
  REPORTER_FLAG,
);
