// What suite run hands its reporters: each judged result as it becomes final, then the report.
import type { OutputKind } from "../../common/output.js";
import type { RunResult } from "../result.js";
import type { Expectations, JudgedResult } from "../suites.js";
import type { ReporterContext } from "../reporters/index.js";

export interface SuiteReport {
  /** the results as smtpscript's reporters show them (suites.ts asReported) */
  run: RunResult;
  judged: JudgedResult[];
  /** the suites that ran */
  suites: string[];
}

export interface SuiteReporterContext extends ReporterContext {
  /** the expectations applied: the lines that say to update them name the file */
  expectations: Expectations;
}

export type SuiteReporterKind = OutputKind<SuiteReport, SuiteReporterContext, JudgedResult>;
