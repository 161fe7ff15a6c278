// The sweep for people: what was discovered, the coverage matrix, every finding with its replay
// and transcript, what was not injected and why, and the verdict.
import Table from "cli-table3";
import { formatDuration } from "../../../common/duration.js";
import { visible } from "../../../common/visible.js";
import { cellText, matrixPhases } from "../matrix.js";
import type { SweepReport } from "../sweep.js";

const style = { head: [], border: [], compact: true };

export function sweepVerdict(r: SweepReport): string {
  const n = r.failureIds.length;
  const count = (o: string): number => r.failureIds.filter((f) => f.outcome === o).length;
  switch (r.verdict) {
    case "pass":
      return `verdict: PASS: all ${n} failure IDs were injected and handled gracefully, nothing acknowledged was lost`;
    case "findings":
      return `verdict: FINDINGS: ${count("findings")} of ${n} failure IDs${r.pairs.length > 0 ? ` and ${r.pairs.filter((p) => p.outcome === "findings").length} of ${r.pairs.length} pairs` : ""} found something (${r.failureIds.filter((f) => f.confirmed === true).length} confirmed on a fresh instance)`;
    case "inconclusive":
      return `verdict: INCONCLUSIVE: no findings, but ${count("not-reached")} failure ID(s) were not reached and ${count("not-run")} not run: nothing was tested there`;
    case "interrupted":
      return `verdict: INTERRUPTED: ${n - count("not-run")} of ${n} failure IDs ran (partial report)`;
  }
}

export function sweepText(r: SweepReport): string {
  const out: string[] = [];
  const d = r.discovered;
  out.push(`sweep of ${r.target}: seed ${r.seed}, ${formatDuration(r.durationMs)} (budget ${formatDuration(r.budgetMs)}), ${r.transactions} transactions, ${r.instances} instance(s)${r.interrupted ? " (INTERRUPTED: partial report)" : ""}`);
  out.push(`discovered: ${d.calls} injectable calls at ${d.sites} sites in ${d.transactions} profiled transactions: ${d.failureIds} failure IDs`);
  const by = (o: string): number => r.failureIds.filter((f) => f.outcome === o).length;
  out.push(`injected ${r.failureIds.filter((f) => f.injected).length}, graceful ${by("graceful")}, findings ${by("findings")}, not reached ${by("not-reached")}, not run ${by("not-run")}`);
  const phases = matrixPhases(r.matrix);
  if (r.matrix.length > 0) {
    out.push("", "coverage (graceful/discovered, !findings, ?not injected; · not reached there):");
    const t = new Table({ head: ["point", ...phases], style });
    for (const row of r.matrix) t.push([row.point, ...phases.map((p) => cellText(row.cells[p]))]);
    out.push(t.toString());
  }
  if (r.notInjectable.length > 0) {
    out.push("", "calls the MTA made that no fault can target:");
    for (const n of r.notInjectable) out.push(`  ${n.what}: ${n.calls} call(s) ${n.reason}`);
  }
  if (r.pairs.length > 0) {
    const pc = (o: string): number => r.pairs.filter((p) => p.outcome === o).length;
    out.push("", `pairs (a second failure at a site reached while a first one was in effect): ${r.pairs.length}, both injected ${r.pairs.filter((p) => p.injected).length}, graceful ${pc("graceful")}, findings ${pc("findings")}, not reached ${pc("not-reached")}, not run ${pc("not-run")}`);
  }
  const found = [...r.failureIds, ...r.pairs].filter((f) => f.outcome === "findings");
  if (found.length > 0) {
    out.push("", "findings:");
    for (const f of found) {
      out.push(`  ${f.id}${f.confirmed === true ? " (confirmed on a fresh instance)" : f.confirmed === false ? " (not found again on a fresh instance)" : ""}`);
      for (const x of f.findings) out.push(`    ${visible(x)}`);
      out.push(`    replay: ${f.replay}`);
      if (f.script !== null) out.push("    as an smtpscript test-case (smtpscript --target T FILE):", ...f.script.split("\n").map((l) => `      ${l}`));
      for (const l of f.transcript.slice(-12)) out.push(`    | ${visible(l)}`);
    }
  }
  const missed = r.failureIds.filter((f) => f.outcome === "not-reached");
  if (missed.length > 0) {
    out.push("", `not reached (${missed.length}):`);
    for (const f of missed.slice(0, 20)) out.push(`  ${f.id}: ${f.reason ?? ""}`);
    if (missed.length > 20) out.push(`  ... and ${missed.length - 20} more (the JSON lists all)`);
  }
  const notRun = by("not-run");
  if (notRun > 0) out.push("", `not run: ${notRun} failure ID(s): ${r.failureIds.find((f) => f.outcome === "not-run")?.reason ?? ""}`);
  for (const n of r.notes) out.push(`note: ${n}`);
  out.push("", sweepVerdict(r));
  return out.join("\n");
}
