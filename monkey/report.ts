// The end of a monkey run: tables for people (outcomes per fault point, findings, crash, ledger)
// and the same report as JSON for machines. The seed is in both, so any run can be replayed.
import Table from "cli-table3";
import { ledgerFindingCount } from "./ledger.js";
import type { LedgerReport } from "./ledger.js";
import type { JudgedOutcome } from "./oracle.js";
import { CRASH_LOOKBACK_MS } from "./run.js";
import type { MonkeyReport } from "./run.js";
import { formatDuration } from "../common/duration.js";
import { visible, visibleLines } from "../common/visible.js";

const CRASH_LOOKBACK_S = CRASH_LOOKBACK_MS / 1000;

const OUTCOME_COLUMNS: JudgedOutcome[] = ["ok", "tempfail", "permfail", "ungraceful", "hang", "unreachable", "crash"];
const style = { head: [], border: [], compact: true };

export function monkeyText(r: MonkeyReport): string {
  const out: string[] = [];
  const secs = (r.durationMs / 1000).toFixed(1);
  out.push(`monkey against ${r.target === r.endpoint ? r.target : `${r.target} (${r.endpoint})`}: ${r.sessions} sessions in ${secs} s, seed ${r.seed}${r.interrupted ? " (INTERRUPTED: partial report)" : ""}`);
  out.push(`plan: ${r.plan.length === 0 ? "(no faults)" : r.plan.join("; ")}`);
  const w = r.windows;
  if (r.plan.length > 0 && (w.cleanMs > 0 || w.healMs > 0)) {
    out.push(`windows: clean ${formatDuration(w.cleanMs)}, faults ${w.faultsMs === null ? "to the end" : formatDuration(w.faultsMs)}, heal ${formatDuration(w.healMs)}`);
  }

  const pf = new Table({ head: ["fault point", "fired", "calls", "eligible", ...OUTCOME_COLUMNS, "excused"], style });
  const reach = new Map(r.reach.map((x) => [x.point, x]));
  const stats = new Map(r.points.map((p) => [p.point, p]));
  const cells = (point: string): string[] => {
    const x = reach.get(point);
    const st = stats.get(point);
    const fired = x !== undefined ? `${x.fired}${x.estimate ? " (est.)" : ""}` : st !== undefined ? String(st.fired) : String(r.inTargetFired[point] ?? "");
    const n = (v: number | null | undefined): string => (v === null || v === undefined ? "-" : String(v));
    return [fired, n(x !== undefined ? x.seen : st?.calls), n(x !== undefined ? x.eligible : st?.eligible)];
  };
  const rows = Object.entries(r.perFault).sort(([a], [b]) => (a === "(none)" ? -1 : b === "(none)" ? 1 : a.localeCompare(b)));
  for (const [point, counts] of rows) {
    pf.push([point, ...(point === "(none)" ? ["", "", ""] : cells(point)), ...OUTCOME_COLUMNS.map((o) => counts[o]), r.excusedPerFault[point] ?? 0]);
  }
  for (const p of r.reach) if (r.perFault[p.point] === undefined) pf.push([p.point, ...cells(p.point), ...OUTCOME_COLUMNS.map(() => 0), 0]);
  out.push("sessions by the fault that fired during them:");
  out.push(pf.toString());

  const findings = Object.entries(r.findings);
  if (findings.length > 0) {
    out.push(`oracle findings: ${findings.map(([k, n]) => `${k} ×${n}`).join(", ")}`);
    for (const s of r.samples.slice(0, 5)) {
      out.push(`  - ${s.finding}${s.faults.length > 0 ? ` [${s.faults.join(", ")}]` : ""}: ${visible(s.detail)}`);
      if (s.transcript !== undefined) out.push(compactTranscript(s.transcript).map((l) => `      ${l}`).join("\n"));
    }
  } else out.push("oracle: every session ended ok or with a graceful 4xx");

  if (r.crash !== null) {
    const c = r.crash;
    out.push(`CRASH: ${c.description} at ${c.at}${c.role !== null ? ` (role ${c.role})` : ""}${c.fatal !== null ? `\n  fatal line: ${visible(c.fatal)}` : ""}`);
    if (c.faultsBefore.length > 0) out.push(`  faults in the ${CRASH_LOOKBACK_S} s before: ${c.faultsBefore.map((f) => `${f.point} x${f.fired} (last ${(f.lastMsBefore / 1000).toFixed(1)} s before)`).join(", ")}`);
    else out.push(`  no fault fired in the ${CRASH_LOOKBACK_S} s before`);
    if (c.keptDir !== undefined) out.push(`  instance directory kept: ${c.keptDir}`);
    for (const l of r.crash.context) out.push(`  | ${visible(l)}`);
  }

  const ledgerRows: Array<[string, LedgerReport]> = [];
  // "after settle": the queue of a server we do not run could not be counted (see the notes)
  if (r.ledger !== null) ledgerRows.push([r.queue === "not observable" ? "after settle" : "after drain", r.ledger]);
  if (r.ledgerAfterRestart !== null) ledgerRows.push(["after restart", r.ledgerAfterRestart]);
  if (ledgerRows.length > 0) {
    // missing and delivered-and-bounced only when some row has them: most runs never do
    const cols: Array<[string, (l: LedgerReport) => number]> = [
      ["accepted", (l) => l.accepted],
      ["delivered", (l) => l.deliveredDistinct],
      ["bounced", (l) => l.bounced],
      ["lost", (l) => l.lost],
      ["stuck", (l) => l.stuck],
      ["missing", (l) => l.missing],
      ["duplicates", (l) => l.duplicates],
      ["after reject", (l) => l.deliveredAfterReject],
      ["never sent", (l) => l.deliveredUnsent],
      ["ambiguous delivered", (l) => l.deliveredAmbiguous],
      ["delivered + bounced", (l) => l.deliveredAndBounced],
    ];
    const shown = cols.filter(([name, get]) => (name !== "missing" && name !== "delivered + bounced") || ledgerRows.some(([, l]) => get(l) > 0));
    const ledger = new Table({ head: ["ledger", ...shown.map(([name]) => name)], style });
    for (const [name, l] of ledgerRows) ledger.push([name, ...shown.map(([, get]) => get(l))]);
    if (r.queue === "not observable") out.push("queue: not observable (no --queue-size-cmd); judged once the Maildirs stopped changing");
    out.push(ledger.toString());
    const l = r.ledgerAfterRestart ?? r.ledger;
    if (l !== null) {
      if (l.missing > 0) out.push(`  stuck and lost cannot be told apart (the queue's ${r.queue === "not observable" ? "size is not observable" : "ids are not listable"}): ${l.missing} missing`);
      const ids: Array<[string, string[]]> = [
        ["lost", l.samples.lost],
        ["stuck", l.samples.stuck],
        ["missing", l.samples.missing],
        ["bounced", l.samples.bounced],
        ["delivered and bounced", l.samples.deliveredAndBounced],
        ["duplicated", l.samples.duplicates.map((d) => `${d.id}×${d.copies}`)],
        ["delivered after a 4xx/5xx to the dot", l.samples.deliveredAfterReject],
      ];
      for (const [what, list] of ids) if (list.length > 0) out.push(`  ${what}: ${list.join(" ")}`);
      const perFault = Object.entries(l.perFault).filter(([, c]) => ledgerFindingCount(c) > 0);
      for (const [f, c] of perFault) {
        const parts: Array<[string, number]> = [["lost", c.lost], ["stuck", c.stuck], ["missing", c.missing], ["bounced", c.bounced], ["duplicates", c.duplicates], ["delivered after reject", c.deliveredAfterReject], ["delivered and bounced", c.deliveredAndBounced]];
        out.push(`  ${f}: ${parts.filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ")}`);
      }
    }
  }
  out.push(...r.layerLines);
  for (const n of r.notes) out.push(`note: ${visibleLines(n)}`);
  const missed = r.reach.filter((x) => !x.reached);
  if (missed.length > 0) {
    out.push("planned faults that never fired (nothing was tested there):");
    for (const x of missed) out.push(`  ${x.point} [${x.mechanism}]: ${x.reason ?? "did not fire"}`);
  }
  if (r.excused > 0) out.push(`excused: ${r.excused} session(s) failed because of a fault of the toolkit's own that hit them (a reset by its proxy, a kill or pause of the process serving them): not the MTA's doing`);
  out.push(`verdict: ${verdictText(r)} (replay with --seed ${r.seed})`);
  return out.join("\n");
}

/** The verdict in words, the same in every output. */
export function verdictText(r: Pick<MonkeyReport, "verdict" | "findingCount" | "reach">): string {
  const missed = r.reach.filter((x) => !x.reached).map((x) => x.point);
  switch (r.verdict) {
    case "pass":
      return r.reach.length === 0 ? "PASS: no findings (a clean run: no fault was planned)" : "PASS: no findings; every planned fault reached the target";
    case "inconclusive":
      return `INCONCLUSIVE: no findings, but ${missed.length} planned fault point(s) never fired: ${missed.join(", ")}`;
    case "interrupted":
      return `INTERRUPTED: ${r.findingCount} finding(s) so far`;
    case "findings":
      return `FINDINGS: ${r.findingCount}${missed.length > 0 ? ` (and ${missed.length} planned point(s) never fired: ${missed.join(", ")})` : ""}`;
  }
}

/** Keeps a transcript readable: long runs of lines one way (a message we sent, a runaway reply) shrink to a count. */
export function compactTranscript(text: string, keep = 3): string[] {
  const out: string[] = [];
  let run: string[] = [];
  let dir: ">>> " | "<<< " | null = null;
  const flush = (): void => {
    const what = dir === ">>> " ? "sent" : "received";
    if (run.length > keep * 2) out.push(...run.slice(0, keep), `   ... ${run.length - keep * 2} more lines ${what} ...`, ...run.slice(-keep));
    else out.push(...run);
    run = [];
  };
  for (const line of text.split("\n")) {
    const d = line.includes(">>> ") ? ">>> " : line.includes("<<< ") ? "<<< " : null;
    if (d !== dir) flush();
    dir = d;
    if (d !== null) run.push(line);
    else out.push(line);
  }
  flush();
  return out;
}
