// The matrix as one self-contained HTML page (common/html-page.ts: no scripts, nothing loaded):
// cells coloured as caniuse colours browsers, the reason of each cell in its title and in the
// numbered notes, the per-point counts of a sweep family in its title.
import { card, htmlPage } from "../../common/html-page.js";
import { esc } from "../../common/svg-charts.js";
import type { Mark, MatrixModel } from "./matrix.js";
import { LEGEND, suiteCellText, suitesFigures, suitesSummaryText, sweepCellText, sweepFigures, sweepSummaryText, type SummaryText } from "./cell-text.js";

const COLOURS: Readonly<Record<Mark, { bg: string; fg: string }>> = {
  good: { bg: "#dff5e7", fg: "#17603a" },
  warn: { bg: "#fff4d6", fg: "#7a5200" },
  bad: { bg: "#fde2e1", fg: "#8a1c1c" },
  skip: { bg: "#eef0f3", fg: "#57606a" },
  none: { bg: "#f6f7f9", fg: "#8c959f" },
};

function td(mark: Mark, text: string, o: { note?: number | null; title?: string | null } = {}): string {
  const c = COLOURS[mark];
  const title = o.title ?? null;
  const note = o.note ?? null;
  return `<td class="m-${mark}" style="background:${c.bg};color:${c.fg};text-align:center"${title !== null && title !== "" ? ` title="${esc(title)}"` : ""}>${esc(text)}${note !== null ? ` <sup><a href="#note-${note}">[${note}]</a></sup>` : ""}</td>`;
}

function th(text: string, left = false): string {
  return `<th style="text-align:${left ? "left" : "center"}">${esc(text)}</th>`;
}

/** Every target column as wide as the others, as caniuse lays out browsers. */
function grid(head: readonly string[], rows: readonly string[]): string {
  const each = Math.floor(64 / Math.max(1, head.length - 1));
  const cols = `<colgroup><col>${head.slice(1).map(() => `<col style="width:${each}%">`).join("")}</colgroup>`;
  return `<table style="table-layout:fixed">${cols}<thead><tr>${head.map((h, i) => th(h, i === 0)).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

export function matrixHtml(m: MatrixModel): string {
  const names = m.columns.map((c) => c.name);
  const noteText = (n: number | null): string | null => (n === null ? null : (m.notes[n - 1] ?? null));
  const summaryCell = (t: SummaryText): string => td(t.mark, t.text, { note: t.note, title: noteText(t.note) });
  const plain = (cells: readonly string[]): string => cells.map((c) => `<td style="text-align:center">${esc(c)}</td>`).join("");
  const label = (text: string): string => `<td>${esc(text)}</td>`;

  const sumRows: string[] = [];
  if (m.suites !== null) {
    sumRows.push(`<tr>${label("suites")}${m.columns.map((c) => summaryCell(suitesSummaryText(c))).join("")}</tr>`);
    for (const [title, cells] of suitesFigures(m.columns)) sumRows.push(`<tr>${label(title)}${plain(cells)}</tr>`);
  }
  if (m.sweep !== null) {
    sumRows.push(`<tr>${label("sweep")}${m.columns.map((c) => summaryCell(sweepSummaryText(c))).join("")}</tr>`);
    for (const [title, cells] of sweepFigures(m.columns)) sumRows.push(`<tr>${label(title)}${plain(cells)}</tr>`);
  }

  const parts = [
    `<header><h1>smtpchaos matrix: ${esc(names.join(", "))}</h1><div class="sub">built by <code>smtpchaos report matrix</code>${m.startedAt !== null ? ` from runs that started ${esc(m.startedAt)}` : ""}</div></header>`,
    `<div class="banner" style="font-weight:normal;background:#fff;border:1px solid #d0d7de">${esc(LEGEND)}</div>`,
    card("Summary", grid(["", ...names], sumRows), "summary", true),
  ];

  if (m.suites !== null) {
    const rows: string[] = [];
    for (const g of m.suites) {
      rows.push(`<tr><th colspan="${names.length + 1}" style="text-align:left;padding-top:10px">${esc(g.suite)}</th></tr>`);
      for (const r of g.rows) rows.push(`<tr>${label(r.name)}${r.cells.map((c) => td(c.mark, suiteCellText(c), { note: c.note, title: noteText(c.note) })).join("")}</tr>`);
    }
    parts.push(card("Suites: each test-case as suite run judges it against the target's expectations", rows.length > 0 ? grid(["test-case", ...names], rows) : "<p>No test-case ran.</p>", "suites", true));
  }

  if (m.sweep !== null) {
    const rows = m.sweep.map((r) => `<tr><td><code>${esc(r.family)}</code></td>${r.cells.map((c) => td(c.mark, sweepCellText(c), { title: c.points.join("\n") })).join("")}</tr>`);
    const found =
      m.findings.length === 0
        ? ""
        : `<h3>Findings</h3><ul>${m.findings.map((f) => `<li><b>${esc(f.target)}</b> <code>${esc(f.id)}</code>${f.confirmed === true ? " (confirmed on a fresh instance)" : f.confirmed === false ? " (not found again on a fresh instance)" : ""}: ${esc(f.findings.join("; "))}<pre>${esc(f.replay)}</pre></li>`).join("")}</ul>`;
    parts.push(card("Fault sweep: failure IDs handled gracefully / injected, per point family", (rows.length > 0 ? grid(["point family", ...names], rows) : "<p>No sweep discovered a failure ID.</p>") + found, "sweep", true));
  }

  if (m.notes.length > 0) parts.push(card("Notes", `<ol>${m.notes.map((n, i) => `<li id="note-${i + 1}">${esc(n)}</li>`).join("")}</ol>`, "notes", true));
  return htmlPage(`smtpchaos matrix: ${names.join(", ")}`, parts.join("\n"));
}
