// What people read of a suite run: a line per test-case with its verdict (and the evidence of a
// failure) as it ends, then a table per suite, the known deviations and the verdict.
import { relative } from "node:path";
import Table from "cli-table3";
import { liveOutput } from "../../common/output.js";
import { visible } from "../../common/visible.js";
import { colorsFor, failureDetails } from "../reporters/console.js";
import type { Colors } from "../reporters/console.js";
import { HARNESS_NOT_EXCUSED, staleDeviations, unexpectedResults } from "../suites.js";
import type { JudgedResult, Verdict } from "../suites.js";
import type { SuiteReport, SuiteReporterContext, SuiteReporterKind } from "./kind.js";

export const suiteConsole: SuiteReporterKind = {
  name: "console",
  summary: "a line per test-case, a table per suite, the verdict (default)",
  create: (to, context) => {
    const c = colorsFor(to, context);
    const mark = marks(c);
    return liveOutput(to, { event: (j) => judgedText(j, mark, context), result: (report) => summaryText(report, c, context) });
  },
};

function marks(c: Colors): Record<Verdict, string> {
  return {
    passed: c.green("ok"),
    deviation: c.yellow("known deviation"),
    skipped: c.yellow("skipped"),
    failed: c.red("FAILED"),
    error: c.red("ERROR"),
    "unexpected-pass": c.red("UNEXPECTED PASS"),
  };
}

function judgedText(j: JudgedResult, mark: Record<Verdict, string>, { verbose, expectations }: SuiteReporterContext): string {
  const r = j.result;
  const out = [`====> ${visible(j.key)} ${mark[j.verdict]}${j.verdict === "skipped" && r.skipReason !== null ? ` (${visible(r.skipReason)})` : ""}`];
  if (j.verdict === "failed" || j.verdict === "error" || (verbose && j.verdict === "deviation")) out.push(failureDetails(r, 8).replace(/^/gm, "      "));
  if (j.verdict === "error" && j.reason !== null) out.push(`      ${HARNESS_NOT_EXCUSED} ("${visible(j.reason)}")`);
  if (j.verdict === "unexpected-pass") out.push(`      listed as a known deviation ("${visible(j.reason ?? "")}") but passed: update ${expectations.source === null ? "the expectations" : relative(process.cwd(), expectations.source)}`);
  return out.map((l) => `${l}\n`).join("");
}

function summaryText(report: SuiteReport, c: Colors, { verbose, expectations }: SuiteReporterContext): string {
  const { judged, suites } = report;
  const table = new Table({ head: ["suite", "passed", "known deviations", "failed", "errors", "unexpected passes", "skipped"], style: { head: [], border: [], compact: true } });
  const count = (suite: string, v: Verdict): number => judged.filter((j) => j.suite === suite && j.verdict === v).length;
  for (const s of suites) table.push([s, count(s, "passed"), count(s, "deviation"), count(s, "failed"), count(s, "error"), count(s, "unexpected-pass"), count(s, "skipped")]);
  const out = ["", table.toString()];
  const deviations = judged.filter((j) => j.verdict === "deviation");
  if (deviations.length > 0) {
    out.push("", "known deviations:");
    for (const d of deviations) out.push(`  ${visible(d.key)}: ${visible(d.reason ?? "")}${verbose && d.result.failure !== null ? ` [${visible(d.result.failure.message)}]` : ""}`);
  }
  const stale = staleDeviations(judged, expectations, suites);
  if (stale.length > 0) out.push("", `expectations naming no test-case that ran (renamed?): ${stale.join(", ")}`);
  const bad = unexpectedResults(judged);
  out.push("", `${bad === 0 ? c.green("verdict: as expected") : c.red(`verdict: ${bad} unexpected result(s)`)} (${judged.length} test-cases, ${deviations.length} known deviations)`);
  return out.map((l) => `${l}\n`).join("");
}
