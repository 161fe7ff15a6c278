// The original smtpscript's output, line for line, plus the evidence a failure needs: where in
// the script, what was expected, and the end of the transcript. Each line is written as its
// test-case ends.
import pc from "picocolors";
import { isTerminal, liveOutput } from "../../common/output.js";
import type { Destination } from "../../common/output.js";
import { formatTranscript } from "../../smtp/transcript.js";
import type { TestResult, RunResult } from "../result.js";
import { summarize } from "../result.js";
import { visible, visibleLines } from "../../common/visible.js";
import type { ReporterContext, ReporterKind } from "./kind.js";

const TAIL = 12;

export type Colors = ReturnType<typeof pc.createColors>;

export const consoleReporter: ReporterKind = {
  name: "console",
  summary: "the original's lines and each failure's evidence (default)",
  create: (to, context) => {
    const c = colorsFor(to, context);
    return liveOutput(to, { event: (r) => resultText(r, c, context.verbose), result: summaryText });
  },
};

/** Colours only on a terminal (picocolors alone also colours whenever CI is set), if allowed. */
export function colorsFor(to: Destination, context: ReporterContext): Colors {
  return pc.createColors(context.color && isTerminal(to));
}

function resultText(r: TestResult, c: Colors, verbose: boolean): string {
  // The original's words for `expect fail` test-cases: "fail (expected)" passes, "ok (failed)" fails.
  const status =
    r.expectedFailure != null ? c.green("fail (expected)")
    : r.expectFail === true && r.status === "failed" ? c.red("ok (failed)")
    : r.status === "passed" ? c.green("ok")
    : r.status === "skipped" ? c.yellow(`skipped (${visible(r.skipReason ?? "skip")})`)
    : r.status === "failed" ? c.red("failed")
    : c.red("error");
  const line = `====> running test-case "${visible(r.name)}" ${status}\n`;
  if (r.failure !== null) return line + indent(failureDetails(r), "      ") + "\n";
  if (verbose && r.status === "passed") return line + indent(transcripts(r, Infinity), "      ") + "\n";
  return line;
}

function summaryText(run: RunResult): string {
  const s = summarize(run.results);
  return `====> all run\npassed: ${s.passed}/${s.total} (skipped: ${s.skipped}, failed: ${s.failed}, error: ${s.error})\n`;
}

export function failureDetails(r: TestResult, tail = TAIL): string {
  const f = r.failure;
  if (f === null) return "";
  const lines: string[] = [];
  // the script's text and the server's replies are shown with their control characters escaped
  const where = f.loc === null ? "" : `${visible(f.loc.file)}:${f.loc.line}:${f.loc.column}: `;
  lines.push(`${where}${f.type === "expectation" ? "" : `${f.type} error: `}${visibleLines(f.message)}`);
  if (f.loc !== null && f.sourceLine !== null) lines.push(`  ${f.loc.line} | ${visible(f.sourceLine.trim())}`);
  if (r.seed !== undefined) lines.push(`  replay with --seed ${r.seed}`);
  const t = transcripts(r, tail);
  if (t !== "") lines.push(t);
  return lines.join("\n");
}

function transcripts(r: TestResult, tail: number): string {
  const out: string[] = [];
  for (const t of r.transcripts) {
    const entries = t.entries.slice(Math.max(0, t.entries.length - tail));
    if (entries.length === 0) continue;
    const cut = entries.length < t.entries.length ? `, last ${entries.length} of ${t.entries.length}` : "";
    out.push(`transcript (${t.connection}${cut}):`);
    out.push(indent(clip(formatTranscript(entries), tail === Infinity ? Infinity : MAX_FAILURE_LINES), "  "));
  }
  return out.join("\n");
}

/** Lines of transcript under one failure: one chunk of a runaway reply can hold a thousand. */
const MAX_FAILURE_LINES = 80;

function clip(text: string, max: number): string {
  const lines = text.split("\n");
  if (lines.length <= max) return text;
  const head = Math.floor(max / 4);
  return [...lines.slice(0, head), `   ... ${lines.length - max} lines cut ...`, ...lines.slice(lines.length - (max - head))].join("\n");
}

function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((l) => prefix + l)
    .join("\n");
}
