// A monkey run as one self-contained HTML page (--out html=FILE): faults fired and session
// outcomes on one time axis with the plan's windows, the fault table, the ledger, the findings
// with their sessions' transcripts, and the command that replays the run.
import { textOutput } from "../../common/output.js";
import { card, htmlPage, table, tile } from "../../common/html-page.js";
import { esc, lineChart } from "../../common/svg-charts.js";
import type { Series } from "../../common/svg-charts.js";
import type { LedgerReport } from "../ledger.js";
import type { JudgedOutcome } from "../oracle.js";
import type { MonkeyReport } from "../run.js";
import type { MonkeyOutputKind } from "./kind.js";
import { verdictText } from "../report.js";

const OUTCOMES: readonly JudgedOutcome[] = ["ok", "tempfail", "permfail", "ungraceful", "hang", "unreachable", "crash"];
const OUTCOME_COLORS: Record<JudgedOutcome, string> = { ok: "#2e9e5b", tempfail: "#e0a030", permfail: "#e07b30", ungraceful: "#d64545", hang: "#8e44ad", unreachable: "#5d6d7e", crash: "#7b241c" };
const POINT_COLORS = ["#3b6fd8", "#c0392b", "#16a085", "#d35400", "#8e44ad", "#2c3e50", "#b83280", "#7f8c8d"];

export function renderMonkeyHtml(r: MonkeyReport): string {
  const tl = r.timeline;
  const per = tl.step === 1 ? "per second" : `per ${tl.step} s`;
  const outcomeSeries: Series[] = OUTCOMES.filter((o) => o === "ok" || tl.points.some((p) => (p.outcomes[o] ?? 0) > 0)).map((o) => ({
    name: o,
    color: OUTCOME_COLORS[o],
    points: tl.points.map((p) => [p.t, p.outcomes[o] ?? 0] as const),
  }));
  const pointNames = [...new Set(tl.points.flatMap((p) => Object.keys(p.fired)))].sort();
  const firedSeries: Series[] = pointNames.map((name, i) => ({ name, color: POINT_COLORS[i % POINT_COLORS.length] as string, points: tl.points.map((p) => [p.t, p.fired[name] ?? 0] as const) }));
  const windows = windowSpans(r);
  const sessions = lineChart({ name: "sessions", label: `Session outcomes ${per}`, xUnit: "s", yUnit: per, series: outcomeSeries });
  const faults = firedSeries.length === 0 ? `<p>No fault fired.</p>` : lineChart({ name: "faults", label: `Faults fired ${per}`, xUnit: "s", yUnit: per, series: firedSeries });
  const windowTable = table(["window", "from", "to"], windows.map((w) => [esc(w.name), esc(`${w.from} s`), esc(w.to === null ? "end" : `${w.to} s`)]));

  const pointsTable = table(
    ["fault point", "mechanism", "calls", "eligible", "fired", "reached", ...OUTCOMES, "excused"],
    r.reach.map((p) => {
      const row = r.perFault[p.point] ?? {};
      const n = (v: number | null): string => (v === null ? "-" : esc(v));
      const reached = p.reached ? "yes" : `<span class="badge fail">no</span> ${esc(p.reason ?? "")}`;
      return [`<code>${esc(p.point)}</code>`, esc(p.mechanism), n(p.seen), n(p.eligible), `${esc(p.fired)}${p.estimate ? " (est.)" : ""}`, reached, ...OUTCOMES.map((o) => esc((row as Partial<Record<JudgedOutcome, number>>)[o] ?? 0)), esc(r.excusedPerFault[p.point] ?? 0)];
    }),
  );
  const ledger = ledgerTable([
    ["after drain", r.ledger],
    ["after restart", r.ledgerAfterRestart],
  ]);
  const findings =
    r.samples.length === 0
      ? `<p>No session finding.</p>`
      : r.samples
          .map(
            (s) =>
              `<details><summary><span class="badge fail">${esc(s.finding)}</span> ${esc(s.detail)}${s.faults.length > 0 ? ` (faults: ${esc(s.faults.join(", "))})` : ""}${s.messageId !== null ? ` &middot; message <code>${esc(s.messageId)}</code>` : ""}</summary>${s.transcript !== undefined ? `<pre>${esc(s.transcript)}</pre>` : ""}</details>`,
          )
          .join("\n");
  const c = r.crash;
  const crash =
    c === null
      ? ""
      : card(
          "Crash",
          `<p>${esc(c.description)} at ${esc(c.at)}${c.role !== null ? `, role <code>${esc(c.role)}</code>` : ""}</p>${c.fatal !== null ? `<p>fatal line: <code>${esc(c.fatal)}</code></p>` : ""}` +
            `<p>faults in the seconds before: ${c.faultsBefore.length === 0 ? "none" : c.faultsBefore.map((f) => `<code>${esc(f.point)}</code> &times;${esc(f.fired)} (last ${esc((f.lastMsBefore / 1000).toFixed(1))} s before)`).join(", ")}</p>` +
            `${c.keptDir !== undefined ? `<p>instance directory kept: <code>${esc(c.keptDir)}</code></p>` : ""}<pre>${esc(c.context.join("\n"))}</pre>`,
          "crash",
          true,
        );
  const verdictClass = r.verdict === "pass" ? "good" : r.verdict === "interrupted" || r.verdict === "inconclusive" ? "warn" : "bad";
  const verdict = verdictText(r);
  const total = OUTCOMES.reduce((a, o) => a + r.outcomes[o], 0);
  const replay = r.replay ?? `smtpchaos monkey run --target ${r.target} --seed ${String(r.seed)}`;
  const title = `monkey report: ${r.target}`;
  return htmlPage(
    title,
    `<header>
<h1>smtpchaos monkey report</h1>
<div class="sub">target <code>${esc(r.target)}</code> (${esc(r.endpoint)}) &middot; seed <code>${esc(String(r.seed))}</code> &middot; ${esc((r.durationMs / 1000).toFixed(1))} s from ${esc(r.startedAt)}</div>
</header>
<div class="banner ${verdictClass}" id="verdict">${esc(verdict)}</div>
<div class="tiles">
${tile("sessions", String(r.sessions))}
${tile("judged", String(total))}
${tile("graceful 4xx", String(r.outcomes.tempfail))}
${tile("ungraceful", String(r.outcomes.ungraceful + r.outcomes.hang))}
${tile("faults fired", String(r.points.reduce((a, p) => a + p.fired, 0)))}
${tile("accepted", String(r.ledgerAfterRestart?.accepted ?? r.ledger?.accepted ?? 0))}
${tile("findings", String(r.findingCount))}
</div>
${card("Replay", `<pre id="replay">${esc(replay)}</pre><p>Plan: ${r.plan.map((p) => `<code>${esc(p)}</code>`).join(", ") || "none"}</p>`, "replay-card", true)}
<div class="grid">
${card("Faults fired over time", faults, "faults-card")}
${card("Session outcomes over time", sessions, "sessions-card")}
</div>
${card("Windows", windowTable, "windows", true)}
${card("Fault points: sessions by the fault that fired during them", pointsTable === "" ? "<p>No fault point.</p>" : pointsTable, "points", true)}
${card("Ledger: every accepted message delivered exactly once", ledger, "ledger", true)}
${crash}
${card("Findings", findings, "findings", true)}
${r.notes.length > 0 ? card("Notes", `<ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`, "notes", true) : ""}
<footer>Generated by smtpchaos monkey. One point ${per}; the windows are the plan's (clean, faults, heal).</footer>`,
  );
}

function windowSpans(r: MonkeyReport): Array<{ name: string; from: number; to: number | null }> {
  const w = r.windows;
  const s = (ms: number): number => Math.round(ms / 100) / 10;
  const faultsEnd = w.faultsMs === null ? null : w.cleanMs + w.faultsMs;
  return [
    { name: "clean", from: 0, to: s(w.cleanMs) },
    { name: "faults", from: s(w.cleanMs), to: faultsEnd === null ? null : s(faultsEnd) },
    ...(faultsEnd === null ? [] : [{ name: "heal", from: s(faultsEnd), to: s(faultsEnd + w.healMs) }]),
  ];
}

function ledgerTable(rows: ReadonlyArray<readonly [string, LedgerReport | null]>): string {
  const present = rows.filter((r): r is readonly [string, LedgerReport] => r[1] !== null);
  if (present.length === 0) return "<p>The ledger was not reconciled (see the notes).</p>";
  return table(
    ["ledger", "accepted", "delivered", "bounced", "lost", "stuck", "missing", "duplicates", "after reject", "never sent", "ambiguous delivered", "delivered + bounced"],
    present.map(([name, l]) => [esc(name), esc(l.accepted), esc(l.deliveredDistinct), esc(l.bounced), esc(l.lost), esc(l.stuck), esc(l.missing), esc(l.duplicates), esc(l.deliveredAfterReject), esc(l.deliveredUnsent), esc(l.deliveredAmbiguous), esc(l.deliveredAndBounced)]),
  );
}

export const htmlOutput: MonkeyOutputKind = {
  name: "html",
  summary: "one self-contained page: faults and outcomes over time, the ledger, findings with transcripts, the replay command",
  create: (to) => textOutput(to, renderMonkeyHtml),
};
