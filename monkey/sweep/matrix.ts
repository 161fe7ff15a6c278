// The coverage matrix: one row per point (role x call, or a hook's point), one column per SMTP
// phase; each cell counts the failure IDs discovered there, injected, handled gracefully and
// with findings. An empty cell is a phase in which the profile never saw the point.
import { SWEEP_PHASES, type SweepPhase } from "./phases.js";
import type { FailureResult } from "./sweep.js";

export interface MatrixCell {
  discovered: number;
  injected: number;
  graceful: number;
  findings: number;
}

export interface MatrixRow {
  point: string;
  role: string | null;
  call: string;
  cells: Partial<Record<SweepPhase, MatrixCell>>;
}

export function buildMatrix(results: readonly FailureResult[]): MatrixRow[] {
  const rows = new Map<string, MatrixRow>();
  for (const r of results) {
    const row = rows.get(r.point) ?? { point: r.point, role: r.role, call: r.call, cells: {} };
    rows.set(r.point, row);
    const c = (row.cells[r.phase] ??= emptyCell());
    c.discovered++;
    if (r.injected) c.injected++;
    if (r.outcome === "graceful") c.graceful++;
    if (r.outcome === "findings") c.findings++;
  }
  return [...rows.values()].sort((a, b) => a.point.localeCompare(b.point));
}

/** An empty cell, to add cells into. */
export function emptyCell(): MatrixCell {
  return { discovered: 0, injected: 0, graceful: 0, findings: 0 };
}

/** Adds `cell`'s counts into `into` (a row's total, a family's). */
export function addCell(into: MatrixCell, cell: MatrixCell): MatrixCell {
  into.discovered += cell.discovered;
  into.injected += cell.injected;
  into.graceful += cell.graceful;
  into.findings += cell.findings;
  return into;
}

/** The phases any row has a cell in, in SMTP order. */
export function matrixPhases(rows: readonly MatrixRow[]): SweepPhase[] {
  return SWEEP_PHASES.filter((p) => rows.some((r) => r.cells[p] !== undefined));
}

/** A cell for people: graceful/discovered, then findings (!) and not injected (?). */
export function cellText(c: MatrixCell | undefined): string {
  if (c === undefined) return "·";
  const missed = c.discovered - c.injected;
  return `${c.graceful}/${c.discovered}${c.findings > 0 ? ` !${c.findings}` : ""}${missed > 0 ? ` ?${missed}` : ""}`;
}
