// Reporter architecture (after Playwright's): a reporter hears about each result as it becomes
// final and about the end of the run; where its output goes is decided by the CLI.
import type { RunResult, TestResult } from "../result.js";

export interface Reporter {
  /** a result became final (called in test-case order) */
  onResult?(result: TestResult, index: number): void;
  /** the run ended; returns the report text for reporters that write one document */
  onEnd(run: RunResult): string | void;
}

export interface ReporterOptions {
  /** print transcripts of passing test-cases too */
  verbose?: boolean;
  /** streaming output (console) */
  write?: (text: string) => void;
  /** what is not part of the original's output (the seed line): stderr by default, so stdout stays the original's line for line */
  note?: (text: string) => void;
  /** colours on the console */
  color?: boolean;
}
