// JUnit XML for CI: one test case per kind of oracle finding, per crash and per ledger problem
// (each with its samples), passing cases for the checks that held, and the verdict, which
// fails exactly when the run's exit code says findings (an interrupted run is an error).
import { junitDocument } from "../../common/junit.js";
import type { JunitCase } from "../../common/junit.js";
import { textOutput } from "../../common/output.js";
import { LEDGER_FINDINGS, LEDGER_FINDING_TEXT } from "../ledger.js";
import { compactTranscript } from "../report.js";
import type { MonkeyReport } from "../run.js";
import { verdictText } from "../report.js";
import type { MonkeyOutputKind } from "./kind.js";

function oracleCases(r: MonkeyReport): JunitCase[] {
  const found = Object.entries(r.findings).filter(([, n]) => (n ?? 0) > 0);
  if (found.length === 0) return [{ name: "every session ended ok or with a graceful 4xx", classname: "monkey.oracle" }];
  return found.map(([kind, n]) => {
    const samples = r.samples.filter((s) => s.finding === kind);
    const detail = samples.map((s) => [`${s.faults.length > 0 ? `[${s.faults.join(", ")}] ` : ""}${s.detail}`, ...(s.transcript === undefined ? [] : compactTranscript(s.transcript).map((l) => `    ${l}`))].join("\n"));
    return { name: kind, classname: "monkey.oracle", failure: { message: `${n} session(s): ${samples[0]?.detail ?? kind}`, type: kind, detail: detail.join("\n\n") } };
  });
}

function crashCase(r: MonkeyReport): JunitCase {
  const c = r.crash;
  if (c === null) return { name: "the target did not crash", classname: "monkey.crash" };
  const detail = [`${c.description} at ${c.at}`, ...(c.fatal === null ? [] : [`fatal line: ${c.fatal}`]), ...c.context.map((l) => `| ${l}`)].join("\n");
  return { name: "crash", classname: "monkey.crash", failure: { message: c.description, type: "crash", detail } };
}

type LedgerProblem = (typeof LEDGER_FINDINGS)[number];


function ledgerCases(r: MonkeyReport): JunitCase[] {
  const l = r.ledgerAfterRestart ?? r.ledger;
  if (l === null) return [{ name: "ledger", classname: "monkey.ledger", skipped: r.notes.find((n) => n.includes("ledger")) ?? "the ledger did not run" }];
  const samples: Partial<Record<LedgerProblem, string[]>> = {
    lost: l.samples.lost,
    stuck: l.samples.stuck,
    missing: l.samples.missing,
    deliveredAndBounced: l.samples.deliveredAndBounced,
    duplicates: l.samples.duplicates.map((d) => `${d.id}×${d.copies}`),
    deliveredAfterReject: l.samples.deliveredAfterReject,
    deliveredUnsent: l.samples.deliveredUnsent,
  };
  const when = r.ledgerAfterRestart !== null ? "after restart" : r.queue === "not observable" ? "after settle" : "after drain";
  const bad = LEDGER_FINDINGS.filter((k) => l[k] > 0).map((k) => [k, LEDGER_FINDING_TEXT[k]] as const);
  if (bad.length === 0) return [{ name: `every accepted message delivered once (${when})`, classname: "monkey.ledger", systemOut: `accepted ${l.accepted}, delivered ${l.deliveredDistinct}, bounced ${l.bounced}` }];
  return bad.map(([k, what]) => ({
    name: k,
    classname: "monkey.ledger",
    failure: { message: `${l[k]} message(s) ${what} (${when})`, type: k, detail: (samples[k] ?? []).join(" ") || `${l[k]} message(s)` },
  }));
}

function verdictCase(r: MonkeyReport): JunitCase {
  const replay = `replay with --seed ${r.seed}`;
  const base = { name: "verdict", classname: "monkey", timeMs: r.durationMs, systemOut: r.notes.map((n) => `note: ${n}`).join("\n") };
  if (r.verdict === "interrupted") return { ...base, error: { message: `interrupted: ${r.findingCount} finding(s) so far; the report is partial (${replay})`, type: "interrupted" } };
  if (r.verdict === "findings") return { ...base, failure: { message: `${r.findingCount} finding(s) (${replay})`, type: "findings" } };
  if (r.verdict === "inconclusive") return { ...base, error: { message: `${verdictText(r)} (${replay})`, type: "inconclusive" } };
  return base;
}

/** One case per planned point: reached, or skipped with the reason it never fired. */
function reachCases(r: MonkeyReport): JunitCase[] {
  return r.reach.map((x) => ({
    name: `reached: ${x.point}`,
    classname: "monkey.reach",
    ...(x.reached ? { systemOut: `${x.fired}${x.estimate ? " (estimated from the log)" : ""} fault(s) injected through ${x.mechanism}` } : { skipped: `not reached: ${x.reason ?? "did not fire"}` }),
  }));
}

export const junitOutput: MonkeyOutputKind = {
  name: "junit",
  summary: "JUnit XML: a test case per kind of finding, and the verdict",
  create: (to) =>
    textOutput(to, (r) =>
      junitDocument({
        tool: "smtpchaos monkey",
        suites: [
          {
            name: `monkey against ${r.target}`,
            timeMs: r.durationMs,
            startedAt: r.startedAt,
            hostname: r.endpoint,
            properties: { target: r.target, endpoint: r.endpoint, seed: r.seed, plan: r.plan.join("; "), sessions: r.sessions, interrupted: r.interrupted },
            cases: [...reachCases(r), ...oracleCases(r), crashCase(r), ...ledgerCases(r), verdictCase(r)],
          },
        ],
      }),
    ),
};
