// JUnit XML for CI: one test case per --threshold (a failed threshold is a failure), plus one
// for a failed session that shrinking reproduced, one for the breaking point of --find-limit,
// and an error case when the run was interrupted (its numbers are partial).
import { junitDocument } from "../../common/junit.js";
import type { JunitCase } from "../../common/junit.js";
import { textOutput } from "../../common/output.js";
import { actualText } from "../report.js";
import type { FindLimitRun, StormOutputKind, StormRun } from "./outcome.js";

function stormCases(o: StormRun): JunitCase[] {
  const cases: JunitCase[] = o.thresholds.map((t) => ({
    name: t.threshold,
    classname: "storm.thresholds",
    ...(t.ok ? {} : { failure: { message: `${t.threshold} failed: actual ${actualText(t)}`, type: "threshold" } }),
    systemOut: `actual ${actualText(t)}`,
  }));
  if (o.shrunk !== null && o.shrunk.reproduced === true) {
    const f = o.result.failure;
    cases.push({
      name: "first failed session",
      classname: "storm.shrink",
      failure: {
        message: `${f?.plan.kind ?? "a session"} ended ${f?.outcome ?? "in failure"}; the smallest failing dialogue is in ${String(o.shrunk.file)}`,
        type: "session",
        detail: `smallest failing plan ${JSON.stringify(o.shrunk.plan)} -> ${String(o.shrunk.outcome)}\nrerun it with smtpscript ${String(o.shrunk.file)}`,
      },
    });
  }
  return cases;
}

function findLimitCase(o: FindLimitRun): JunitCase {
  const r = o.result;
  const ungraceful = r.shedding === "ungraceful" || r.shedding === "mixed";
  const where = r.breakingPoint === null ? `no breaking point up to ${r.steps.at(-1)?.level ?? 0}` : `breaking point ${r.breakingPoint}, load shed ${r.shedding ?? "by latency"}`;
  return {
    name: "load shedding at the breaking point",
    classname: "storm.find-limit",
    ...(ungraceful ? { failure: { message: `${where}: resets or timeouts instead of 4xx replies`, type: "shedding" } } : {}),
    systemOut: where,
  };
}

export const junitOutput: StormOutputKind = {
  name: "junit",
  summary: "JUnit XML: a test case per --threshold",
  create: (to) =>
    textOutput(to, (o) => {
      const interrupted = o.result.interrupted;
      const cases = o.kind === "storm" ? stormCases(o) : [findLimitCase(o)];
      if (interrupted) cases.push({ name: "run", classname: o.kind === "storm" ? "storm" : "storm.find-limit", error: { message: "interrupted: the results are partial", type: "interrupted" } });
      const seed = o.kind === "storm" ? o.result.seed : o.seed;
      return junitDocument({
        tool: "smtpchaos storm",
        suites: [
          {
            name: `${o.kind === "storm" ? "storm" : "find-limit"} against ${o.label}`,
            timeMs: o.kind === "storm" ? o.result.durationMs : 0,
            properties: { target: o.label, seed, model: o.result.model, interrupted },
            cases,
          },
        ],
      });
    }),
};
