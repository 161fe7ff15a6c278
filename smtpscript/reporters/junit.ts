// JUnit XML as CI systems read it: one <testsuite> per script file, the transcript in
// <system-out>, the failing statement's file and line on the <testcase>.
import { junitDocument } from "../../common/junit.js";
import type { JunitCase, JunitSuite } from "../../common/junit.js";
import { textOutput } from "../../common/output.js";
import { transcriptsText } from "../result.js";
import type { RunResult, TestResult } from "../result.js";
import type { ReporterKind } from "./kind.js";

export const junitReporter: ReporterKind = {
  name: "junit",
  summary: "JUnit XML: a testsuite per file, failures located, transcripts",
  create: (to) => textOutput(to, renderJunit),
};

export function renderJunit(run: RunResult): string {
  const byFile = new Map<string, TestResult[]>();
  for (const r of run.results) byFile.set(r.file, [...(byFile.get(r.file) ?? []), r]);
  const suites = [...byFile].map(([file, results]): JunitSuite => ({
    name: file,
    timeMs: results.reduce((a, r) => a + r.durationMs, 0),
    startedAt: run.startedAt,
    hostname: run.target,
    properties: run.seed === undefined ? {} : { seed: run.seed },
    cases: results.map((r) => caseOf(r, file)),
  }));
  return junitDocument({ tool: "smtpscript", timeMs: run.durationMs, suites });
}

function caseOf(r: TestResult, file: string): JunitCase {
  const c: JunitCase = {
    name: r.name,
    classname: file,
    file: r.failure?.loc?.file ?? r.file,
    line: r.failure?.loc?.line ?? r.loc.line,
    timeMs: r.durationMs,
    systemOut: transcriptsText(r),
  };
  if (r.status === "skipped") c.skipped = r.skipReason ?? "";
  const f = r.failure;
  if (f !== null) {
    const where = f.loc === null ? "" : `${f.loc.file}:${f.loc.line}:${f.loc.column}\n`;
    const src = f.sourceLine === null ? "" : `${f.sourceLine.trim()}\n`;
    const replay = r.seed === undefined ? "" : `\nreplay with --seed ${r.seed}`;
    c[r.status === "failed" ? "failure" : "error"] = { message: f.message, type: f.type, detail: where + src + f.message + replay };
  }
  return c;
}
