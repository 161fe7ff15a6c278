// One self-contained page: the coverage matrix (cells coloured by what they found), the
// findings with their replays and transcripts, and every failure ID. No scripts, nothing loaded.
import { card, htmlPage, table, tile } from "../../../common/html-page.js";
import { textOutput } from "../../../common/output.js";
import { esc } from "../../../common/svg-charts.js";
import { formatDuration } from "../../../common/duration.js";
import { cellText, matrixPhases, type MatrixCell } from "../matrix.js";
import type { SweepReport } from "../sweep.js";
import { sweepVerdict } from "./text.js";
import type { SweepOutputKind } from "./kind.js";

function cell(c: MatrixCell | undefined): string {
  if (c === undefined) return `<span style="color:#aaa">·</span>`;
  const bg = c.findings > 0 ? "#fde2e1" : c.injected < c.discovered ? "#fff4d6" : "#dff5e7";
  return `<span style="background:${bg};padding:1px 6px;border-radius:4px">${esc(cellText(c))}</span>`;
}

export function sweepHtml(r: SweepReport): string {
  const phases = matrixPhases(r.matrix);
  const by = (o: string): number => r.failureIds.filter((f) => f.outcome === o).length;
  const banner = r.verdict === "pass" ? "good" : r.verdict === "findings" ? "bad" : "warn";
  const found = [...r.failureIds, ...r.pairs].filter((f) => f.outcome === "findings");
  const body = [
    `<header><h1>Fault sweep of ${esc(r.target)}</h1><div class="sub">seed <code>${esc(String(r.seed))}</code>, ${esc(formatDuration(r.durationMs))}, started ${esc(r.startedAt)}</div></header>`,
    `<div class="banner ${banner}">${esc(sweepVerdict(r))}</div>`,
    `<div class="tiles">${[tile("failure IDs", String(r.failureIds.length)), tile("injected", String(r.failureIds.filter((f) => f.injected).length)), tile("graceful", String(by("graceful"))), tile("findings", String(by("findings"))), tile("not reached", String(by("not-reached"))), tile("not run", String(by("not-run"))), tile("sites", String(r.discovered.sites))].join("")}</div>`,
    card("Coverage: graceful/discovered per point and phase (!findings, ?not injected)", table(["point", ...phases], r.matrix.map((row) => [esc(row.point), ...phases.map((p) => cell(row.cells[p]))])), "matrix", true),
    found.length === 0 ? "" : card("Findings", found.map((f) => `<h3>${esc(f.id)}${f.confirmed === true ? " (confirmed)" : ""}</h3><ul>${f.findings.map((x) => `<li>${esc(x)}</li>`).join("")}</ul><pre>${esc(f.replay)}</pre>${f.transcript.length > 0 ? `<pre>${esc(f.transcript.join("\n"))}</pre>` : ""}`).join(""), "findings", true),
    card("Failure IDs", table(["id", "outcome", "session", "why"], r.failureIds.map((f) => [esc(f.id), esc(f.outcome), esc(f.session ?? ""), esc(f.findings[0] ?? f.reason ?? "")])), "ids", true),
    r.pairs.length === 0 ? "" : card("Pairs: a second failure at a site reached while a first one was in effect", table(["pair", "outcome", "session", "why"], r.pairs.map((f) => [esc(f.id), esc(f.outcome), esc(f.session ?? ""), esc(f.findings[0] ?? f.reason ?? "")])), "pairs", true),
    r.notInjectable.length === 0 ? "" : card("Calls no fault can target", table(["call", "calls", "why"], r.notInjectable.map((n) => [esc(n.what), String(n.calls), esc(n.reason)])), "not-injectable", true),
    r.notes.length === 0 ? "" : card("Notes", `<ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`, "notes", true),
  ].join("");
  return htmlPage(`smtpchaos sweep of ${r.target}`, body);
}

export const htmlOutput: SweepOutputKind = {
  name: "html",
  summary: "one self-contained HTML page: the matrix, findings with transcripts, every failure ID",
  create: (to) => textOutput(to, sweepHtml),
};
