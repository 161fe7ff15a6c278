// The matrix as Markdown (GitHub tables): marks in plain text, reasons as numbered notes below,
// so the page reads in a terminal, a diff and a README alike.
import type { MatrixModel } from "./matrix.js";
import { LEGEND, SYMBOL, suiteCellText, suitesFigures, suitesSummaryText, sweepCellText, sweepFigures, sweepSummaryText, type SummaryText } from "./cell-text.js";

/**
 * Text that stays text: no code span, emphasis, link or HTML comes out of a name or a reason (and
 * in a table, no cell boundary). `_` inside words and `>` after text are inert in GitHub's
 * Markdown, so they stay as they are: a note stays readable in the raw file.
 */
export function mdEscape(s: string, inTable = false): string {
  return s.replace(/\s+/g, " ").replace(inTable ? /[\\`*[\]<|]/g : /[\\`*[\]<]/g, "\\$&");
}

const cell = (s: string): string => mdEscape(s, true);

function ref(note: number | null): string {
  return note === null ? "" : ` [${note}]`;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(" | ")} |`;
}

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  return [row(head.map(cell)), row(head.map((_, i) => (i === 0 ? "---" : ":-:"))), ...rows.map(row)];
}

const summary = (t: SummaryText): string => `${t.text}${ref(t.note)}`;

export function matrixMarkdown(m: MatrixModel): string {
  const names = m.columns.map((c) => c.name);
  const out: string[] = [`# smtpchaos matrix: ${names.map((n) => mdEscape(n)).join(", ")}`, ""];
  out.push(`Built by \`smtpchaos report matrix\`${m.startedAt !== null ? ` from runs that started ${m.startedAt}` : ""}. ${LEGEND}`, "");

  const sumRows: string[][] = [];
  if (m.suites !== null) {
    sumRows.push(["suites", ...m.columns.map((c) => summary(suitesSummaryText(c)))]);
    for (const [title, cells] of suitesFigures(m.columns)) sumRows.push([title, ...cells]);
  }
  if (m.sweep !== null) {
    sumRows.push(["sweep", ...m.columns.map((c) => summary(sweepSummaryText(c)))]);
    for (const [title, cells] of sweepFigures(m.columns)) sumRows.push([title, ...cells]);
  }
  out.push("## Summary", "", ...table(["", ...names], sumRows), "");

  if (m.suites !== null) {
    out.push("## Suites", "", "Each test-case as `smtpchaos suite run --target NAME` judges it against the target's expectations file.", "");
    const rows: string[][] = [];
    for (const g of m.suites) {
      rows.push([`**${cell(g.suite)}**`, ...names.map(() => "")]);
      for (const r of g.rows) rows.push([cell(r.name), ...r.cells.map((c) => `${suiteCellText(c)}${ref(c.note)}`)]);
    }
    out.push(...(rows.length > 0 ? table(["test-case", ...names], rows) : ["No test-case ran."]), "");
  }

  if (m.sweep !== null) {
    out.push("## Fault sweep", "", "Each failure ID (a call site, an SMTP phase, one way to fail) injected once by `smtpchaos monkey sweep --target NAME`, counted per point family: `sys.*.fsync` is every process role's fsync.", "");
    out.push(...(m.sweep.length > 0 ? table(["point family", ...names], m.sweep.map((r) => [`\`${r.family}\``, ...r.cells.map(sweepCellText)])) : ["No sweep discovered a failure ID."]), "");
    if (m.findings.length > 0) {
      out.push("### Findings", "");
      for (const f of m.findings) {
        const confirmed = f.confirmed === true ? " (confirmed on a fresh instance)" : f.confirmed === false ? " (not found again on a fresh instance)" : "";
        out.push(`- ${mdEscape(f.target)} \`${f.id}\`${confirmed}: ${f.findings.map((x) => mdEscape(x)).join("; ")}. Replay: \`${f.replay}\``);
      }
      out.push("");
    }
  }

  if (m.notes.length > 0) {
    out.push("## Notes", "");
    m.notes.forEach((n, i) => out.push(`${i + 1}. ${mdEscape(n)}`));
    out.push("");
  }
  if (m.columns.length === 0) out.push(`${SYMBOL.none} No target.`, "");
  return out.join("\n");
}
