// The words and marks of the matrix, shared by the Markdown and the HTML page so both say the
// same thing: a mark per cell (✓ ~ ✗ · –), counts, and the summary lines of each target.
import { formatDuration } from "../../common/duration.js";
import type { Column, Mark, SuiteCell, SweepCell } from "./matrix.js";

export const SYMBOL: Readonly<Record<Mark, string>> = { good: "✓", warn: "~", bad: "✗", skip: "·", none: "–" };

export const LEGEND =
  "✓ pass; ~ known deviation (sweep: some failure IDs not injected); ✗ fail (sweep: findings); · skipped; – not run. " +
  "Sweep cells: failure IDs handled gracefully / injected, !N with findings, ?N not injected. [N]: see the notes.";

/** A verdict the mark alone does not tell apart. */
export function suiteCellText(c: SuiteCell): string {
  if (c.verdict === "error") return `${SYMBOL.bad} error`;
  if (c.verdict === "unexpected-pass") return `${SYMBOL.bad} unexpected pass`;
  return SYMBOL[c.mark];
}

export function sweepCellText(c: SweepCell): string {
  if (c.mark === "none") return SYMBOL.none;
  const missed = c.discovered - c.injected;
  return `${SYMBOL[c.mark]} ${c.graceful}/${c.injected}${c.findings > 0 ? ` !${c.findings}` : ""}${missed > 0 ? ` ?${missed}` : ""}`;
}

/** A summary line of a column, and the note that explains it (null: none). */
export interface SummaryText {
  mark: Mark;
  text: string;
  note: number | null;
}

export function suitesSummaryText(c: Column): SummaryText {
  if (c.unavailable !== null) return { mark: "none", text: `${SYMBOL.none} not run`, note: c.unavailableNote };
  if (c.suitesError !== null) return { mark: "none", text: `${SYMBOL.none} could not run`, note: c.suitesErrorNote };
  const s = c.suites;
  if (s === null) return { mark: "none", text: SYMBOL.none, note: null };
  const parts = [`${s.passed}/${s.total} passed`];
  if (s.deviations > 0) parts.push(`${s.deviations} known deviation${s.deviations === 1 ? "" : "s"}`);
  if (s.failed > 0) parts.push(`${s.failed} failed`);
  if (s.skipped > 0) parts.push(`${s.skipped} skipped`);
  if (s.interrupted) parts.push("interrupted");
  return { mark: s.mark, text: `${SYMBOL[s.mark]} ${parts.join(", ")}`, note: null };
}

export function sweepSummaryText(c: Column): SummaryText {
  if (c.unavailable !== null) return { mark: "none", text: `${SYMBOL.none} not run`, note: c.unavailableNote };
  if (c.sweepError !== null) return { mark: "none", text: `${SYMBOL.none} could not run`, note: c.sweepErrorNote };
  const s = c.sweep;
  if (s === null) return { mark: "none", text: SYMBOL.none, note: null };
  return { mark: s.mark, text: `${SYMBOL[s.mark]} ${s.verdict.toUpperCase()}`, note: null };
}

/** The sweep's numbers, one summary row each: [row title, text per column]. */
export function sweepFigures(columns: readonly Column[]): Array<[string, string[]]> {
  const of = (f: (s: NonNullable<Column["sweep"]>) => string): string[] => columns.map((c) => (c.sweep === null ? SYMBOL.none : f(c.sweep)));
  return [
    ["failure IDs", of((s) => String(s.failureIds))],
    ["injected", of((s) => String(s.injected))],
    ["graceful", of((s) => String(s.graceful))],
    ["findings", of((s) => String(s.findings))],
    ["not reached / not run", of((s) => `${s.notReached} / ${s.notRun}`)],
    ["sweep time", of((s) => `${formatDuration(s.durationMs)} (budget ${formatDuration(s.budgetMs)})`)],
    ["seed", of((s) => String(s.seed))],
  ];
}

export function suitesFigures(columns: readonly Column[]): Array<[string, string[]]> {
  return [["suites time", columns.map((c) => (c.suites === null ? SYMBOL.none : formatDuration(c.suites.durationMs)))]];
}
