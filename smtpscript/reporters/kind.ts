// What smtpscript hands its reporters (outputs on common/output.ts's contract): each test-case's
// result as it becomes final, in script order, then the run.
import type { OutputKind } from "../../common/output.js";
import type { RunResult, TestResult } from "../result.js";

/** What a reporter knows before the run. */
export interface ReporterContext {
  /** show transcripts of passing test-cases too */
  verbose: boolean;
  /** colours allowed (no --no-color, no NO_COLOR); a reporter colours only a terminal */
  color: boolean;
}

export type ReporterKind = OutputKind<RunResult, ReporterContext, TestResult>;
