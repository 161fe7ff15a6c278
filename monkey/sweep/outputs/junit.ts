// JUnit for CI: one test case per failure ID and per pair (classname: its point), so a CI page
// names the failure that broke; not reached and not run are skipped with the reason, never passed.
import { hostname } from "node:os";
import { junitDocument, type JunitCase } from "../../../common/junit.js";
import { textOutput } from "../../../common/output.js";
import type { FailureResult, SweepReport } from "../sweep.js";
import { sweepVerdict } from "./text.js";
import type { SweepOutputKind } from "./kind.js";

function caseOf(f: FailureResult): JunitCase {
  const c: JunitCase = { name: f.id, classname: `monkey.sweep.${f.point}` };
  if (f.outcome === "findings") {
    const detail = [...f.findings, `replay: ${f.replay}`, ...f.transcript.map((l) => `| ${l}`)].join("\n");
    return { ...c, failure: { message: f.findings[0] ?? "finding", type: "finding", detail } };
  }
  if (f.outcome === "not-reached" || f.outcome === "not-run") return { ...c, skipped: f.reason ?? f.outcome };
  return { ...c, systemOut: `injected; the transaction ended ${f.session ?? "?"}` };
}

export function sweepJunit(r: SweepReport): string {
  const verdict: JunitCase = { name: "verdict", classname: "monkey.sweep", ...(r.verdict === "interrupted" ? { error: { message: sweepVerdict(r), type: "interrupted" } } : r.verdict === "findings" ? { failure: { message: sweepVerdict(r), type: "findings" } } : r.verdict === "inconclusive" ? { skipped: sweepVerdict(r) } : {}) };
  return junitDocument({
    tool: "smtpchaos monkey sweep",
    suites: [
      {
        name: `sweep of ${r.target}`,
        timeMs: r.durationMs,
        startedAt: r.startedAt,
        hostname: hostname(),
        properties: { seed: String(r.seed), target: r.target, failureIds: r.failureIds.length },
        cases: [...r.failureIds.map(caseOf), ...r.pairs.map(caseOf), verdict],
      },
    ],
  });
}

export const junitOutput: SweepOutputKind = {
  name: "junit",
  summary: "JUnit XML: a test case per failure ID (failed on findings, skipped when not reached)",
  create: (to) => textOutput(to, sweepJunit),
};
