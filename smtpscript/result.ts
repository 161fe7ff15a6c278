// The result model every reporter consumes. Storm, monkey and the suites produce the same
// shapes, so one set of reporters (console, TAP, JUnit, JSON) serves all of them.
import { formatTranscript } from "../smtp/transcript.js";
import type { TranscriptEntry } from "../smtp/transcript.js";
import type { Loc } from "./ast.js";

export type TestStatus = "passed" | "failed" | "error" | "skipped";

export interface TestFailure {
  /** what went wrong, one line */
  message: string;
  /** "expectation" for an unmet expect, otherwise the error kind: connect, timeout, tls, protocol, script... */
  type: string;
  /** the statement that failed */
  loc: Loc | null;
  /** that statement's source line */
  sourceLine: string | null;
}

export interface ConnectionTranscript {
  connection: string;
  entries: TranscriptEntry[];
}

export interface TestResult {
  name: string;
  /** file of the test-case (an included file for included test-cases) */
  file: string;
  loc: Loc;
  status: TestStatus;
  durationMs: number;
  failure: TestFailure | null;
  skipReason: string | null;
  transcripts: ConnectionTranscript[];
  /** ledger ids of messages the server accepted (250 after the final dot) */
  acceptedMessages: string[];
  /** the run's seed: `--seed` with it replays this test-case's random choices */
  seed?: number;
  /** the test-case is marked `expect fail` */
  expectFail?: boolean;
  /** for an `expect fail` test-case that failed as meant to (and so passed): how it failed */
  expectedFailure?: TestFailure | null;
}

export interface RunResult {
  /** what was tested, e.g. "127.0.0.1:2525" or "embedded (127.0.0.1:40211)" */
  target: string;
  files: string[];
  startedAt: string;
  durationMs: number;
  /** every random choice of the run derives from it; `--seed` replays */
  seed?: number;
  results: TestResult[];
}

export interface Summary {
  total: number;
  passed: number;
  failed: number;
  error: number;
  skipped: number;
}

export function summarize(results: readonly TestResult[]): Summary {
  const s: Summary = { total: results.length, passed: 0, failed: 0, error: 0, skipped: 0 };
  for (const r of results) s[r.status]++;
  return s;
}

/** A test-case's transcripts whole, each headed by its connection: what the documents (TAP, JUnit) carry. */
export function transcriptsText(r: TestResult): string {
  return r.transcripts.map((t) => `[${t.connection}]\n${formatTranscript(t.entries)}`).join("\n");
}
