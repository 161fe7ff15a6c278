// The crash run for people: one table row per model, then each finding with its explanation and replay.
import Table from "cli-table3";
import { formatDuration } from "../../../common/duration.js";
import type { CrashReport } from "../run.js";

/** Findings shown per model on the console (all of them are in the JSON and HTML reports). */
const SHOWN = 5;

export function crashVerdict(r: CrashReport): string {
  const lost = r.models.reduce((n, m) => n + m.statesLosingMail, 0);
  const what =
    r.verdict === "findings" ? `FINDINGS: ${r.models.filter((m) => m.findings.length > 0).map((m) => `${m.name} ${m.findings.length} state${m.findings.length === 1 ? "" : "s"}`).join(", ")}${lost > 0 ? " lose acknowledged mail or duplicate it" : " duplicate mail or keep the MTA from starting"}`
    : r.verdict === "inconclusive" ? `INCONCLUSIVE: ${r.reasons.join("; ")}`
    : `PASS: no crash state lost or duplicated acknowledged mail`;
  return `verdict: ${what}${r.interrupted ? " (interrupted: partial report)" : ""}`;
}

export function crashText(r: CrashReport): string {
  const out: string[] = [];
  out.push(`crash run: ${r.target}, seed ${r.seed}, ${r.sent} messages sent, ${r.accepted} acknowledged, ${r.concurrency} at a time; ${r.ops} operations recorded on ${r.durable.join(", ")}; ${formatDuration(r.durationMs)}`);
  const t = new Table({ head: ["model", "crash points", "states", "tried", "losing mail", "lost msgs", "duplicates", "not starting"], style: { head: [], border: [] } });
  for (const m of r.models) t.push([m.name, m.crashPoints, m.truncated ? `${m.states} of ${m.distinct}` : m.states, m.tried, m.statesLosingMail, m.lostMessages, m.duplicates, m.statesNotStarting]);
  out.push(t.toString());
  for (const m of r.models) {
    if (m.findings.length === 0) continue;
    out.push(`${m.name}: ${m.summary}`);
    for (const f of m.findings.slice(0, SHOWN)) {
      const what = [
        f.lost.length > 0 ? `${f.lost.length} of ${f.acked} acknowledged lost` : "",
        f.duplicates.length > 0 ? `${f.duplicates.length} delivered more than once (${f.duplicates.slice(0, 3).map((d) => `${d.id} x${d.copies}`).join(", ")})` : "",
        f.startError !== null ? `the MTA did not start: ${f.startError.split("\n")[0] ?? ""}` : "",
      ].filter((x) => x !== "");
      out.push(`  ${f.state}  crash ${f.crashPoint}${f.points > 1 ? ` (and ${f.points - 1} earlier point${f.points > 2 ? "s" : ""})` : ""}: ${what.join("; ")}`);
      for (const e of f.explanation) out.push(`      ${e}`);
      out.push(`      replay: ${f.replay}`);
    }
    if (m.findings.length > SHOWN) out.push(`  ... ${m.findings.length - SHOWN} more ${m.name} states with findings (see --json or --out html)`);
  }
  if (r.verdict !== "inconclusive" && r.reasons.length > 0) out.push(`note: ${r.reasons.join("; ")}`);
  if (r.trace !== null) out.push(`trace: ${r.trace}`);
  out.push(crashVerdict(r));
  return out.join("\n");
}
