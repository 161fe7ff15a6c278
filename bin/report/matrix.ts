// The matrix across targets (pure): one column per target; rows for every suite test-case and for
// every sweep point family; a summary per target. Both renderings (Markdown, HTML) and the JSON
// output read this model only, so they always agree, down to the numbers of the notes.
import { visible } from "../../common/visible.js";
import { isUnexpected } from "../../smtpscript/suites.js";
import type { Verdict } from "../../smtpscript/suites.js";
import type { SweepReport } from "../../monkey/sweep/sweep.js";
import { addCell, emptyCell } from "../../monkey/sweep/matrix.js";
import type { TargetRecord } from "./records.js";

/** A cell's colour, as caniuse has them: green, yellow, red, grey (skipped), grey (nothing there). */
export type Mark = "good" | "warn" | "bad" | "skip" | "none";

export interface SuiteCell {
  mark: Mark;
  /** null: the target did not run this test-case */
  verdict: Verdict | null;
  /** the number (1-based) of the note that says why: a reason, a failure, a skip */
  note: number | null;
}

export interface SuiteRow {
  key: string;
  name: string;
  cells: SuiteCell[];
}

export interface SuiteGroup {
  suite: string;
  rows: SuiteRow[];
}

export interface SweepCell {
  mark: Mark;
  discovered: number;
  injected: number;
  graceful: number;
  findings: number;
  /** the points of the family, one line each, as the sweep's own matrix counts them */
  points: string[];
}

export interface SweepRow {
  family: string;
  cells: SweepCell[];
}

export interface SuitesSummary {
  mark: Mark;
  total: number;
  passed: number;
  deviations: number;
  /** failed, errors and unexpected passes */
  failed: number;
  skipped: number;
  durationMs: number;
  interrupted: boolean;
}

export interface SweepSummary {
  mark: Mark;
  verdict: SweepReport["verdict"];
  failureIds: number;
  injected: number;
  graceful: number;
  findings: number;
  notReached: number;
  notRun: number;
  durationMs: number;
  budgetMs: number;
  seed: number;
}

export interface Column {
  name: string;
  ref: string;
  /** why nothing ran for it, and the note that says so */
  unavailable: string | null;
  unavailableNote: number | null;
  suites: SuitesSummary | null;
  suitesError: string | null;
  suitesErrorNote: number | null;
  sweep: SweepSummary | null;
  sweepError: string | null;
  sweepErrorNote: number | null;
}

export interface Finding {
  target: string;
  id: string;
  findings: string[];
  confirmed: boolean | null;
  replay: string;
}

export interface MatrixModel {
  kind: "matrix";
  /** when the earliest run started; null when nothing ran */
  startedAt: string | null;
  columns: Column[];
  /** null: the page has no suites section (--sweeps-only) */
  suites: SuiteGroup[] | null;
  /** null: the page has no sweep section (--suites-only) */
  sweep: SweepRow[] | null;
  findings: Finding[];
  /** note texts, numbered from 1 in the order cells first cite them */
  notes: string[];
}

export interface MatrixOptions {
  suites: boolean;
  sweeps: boolean;
}

export function verdictMark(v: Verdict | null): Mark {
  if (v === null) return "none";
  if (v === "passed") return "good";
  if (v === "deviation") return "warn";
  if (v === "skipped") return "skip";
  return "bad";
}

/** What a note says of a verdict: the expectations' reason, the failure, the skip reason. */
function noteOf(j: { verdict: Verdict; reason: string | null; result: { failure: { message: string; type: string } | null; skipReason: string | null } }): string | null {
  const failure = j.result.failure;
  switch (j.verdict) {
    case "passed":
      return null;
    case "deviation":
      return `known deviation: ${j.reason ?? ""}`;
    case "skipped":
      return `skipped: ${j.result.skipReason ?? "no reason given"}`;
    case "unexpected-pass":
      return `unexpected pass: listed as a known deviation ("${j.reason ?? ""}") but passed`;
    case "error":
      return `error (${failure?.type ?? "internal"}): ${failure?.message ?? ""}`;
    case "failed":
      return `failed: ${failure?.message ?? ""}`;
  }
}

/** The row a sweep point is counted in: system calls by call across roles (the roles differ from MTA to MTA), process faults together. */
export function familyOf(point: string): string {
  const sys = /^sys\.[^.]+\.(.+)$/.exec(point);
  if (sys !== null) return `sys.*.${sys[1] as string}`;
  const proc = /^(kill|pause)\.[^.]+$/.exec(point);
  if (proc !== null) return `${proc[1] as string}.*`;
  return point;
}

export function sweepMark(c: { discovered: number; injected: number; findings: number }): Mark {
  if (c.discovered === 0) return "none";
  if (c.findings > 0) return "bad";
  return c.injected < c.discovered ? "warn" : "good";
}

function suitesSummary(r: TargetRecord): SuitesSummary | null {
  const s = r.suites;
  if (s === null) return null;
  const count = (f: (v: Verdict) => boolean): number => s.judged.filter((j) => f(j.verdict)).length;
  const failed = count(isUnexpected);
  const deviations = count((v) => v === "deviation");
  return {
    mark: failed > 0 ? "bad" : deviations > 0 || s.interrupted ? "warn" : "good",
    total: s.judged.length,
    passed: count((v) => v === "passed"),
    deviations,
    failed,
    skipped: count((v) => v === "skipped"),
    durationMs: s.durationMs,
    interrupted: s.interrupted,
  };
}

function sweepSummary(r: TargetRecord): SweepSummary | null {
  const s = r.sweep;
  if (s === null) return null;
  const by = (o: string): number => s.failureIds.filter((f) => f.outcome === o).length;
  return {
    mark: s.verdict === "pass" ? "good" : s.verdict === "findings" ? "bad" : "warn",
    verdict: s.verdict,
    failureIds: s.failureIds.length,
    injected: s.failureIds.filter((f) => f.injected).length,
    graceful: by("graceful"),
    findings: by("findings"),
    notReached: by("not-reached"),
    notRun: by("not-run"),
    durationMs: s.durationMs,
    budgetMs: s.budgetMs,
    seed: s.seed,
  };
}

/** Numbers notes: the same text anywhere gets the same number. */
class Notes {
  readonly texts: string[] = [];
  private readonly index = new Map<string, number>();

  cite(text: string | null): number | null {
    if (text === null) return null;
    const t = visible(text.replace(/\s+/g, " ").trim());
    let n = this.index.get(t);
    if (n === undefined) {
      this.texts.push(t);
      n = this.texts.length;
      this.index.set(t, n);
    }
    return n;
  }
}

function suiteGroups(records: readonly TargetRecord[], notes: Notes): SuiteGroup[] {
  // every test-case any target ran, in the order the suites run them
  const keys = new Map<string, { suite: string; name: string }>();
  for (const r of records) for (const j of r.suites?.judged ?? []) if (!keys.has(j.key)) keys.set(j.key, { suite: j.suite, name: j.result.name });
  const groups = new Map<string, SuiteGroup>();
  for (const [key, { suite, name }] of keys) {
    const cells = records.map((r): SuiteCell => {
      const j = r.suites?.judged.find((x) => x.key === key);
      if (j === undefined) return { mark: "none", verdict: null, note: null };
      return { mark: verdictMark(j.verdict), verdict: j.verdict, note: notes.cite(noteOf(j)) };
    });
    const g = groups.get(suite) ?? { suite, rows: [] };
    groups.set(suite, g);
    g.rows.push({ key, name, cells });
  }
  return [...groups.values()];
}

function sweepRows(records: readonly TargetRecord[]): SweepRow[] {
  const families = [...new Set(records.flatMap((r) => (r.sweep?.matrix ?? []).map((m) => familyOf(m.point))))].sort();
  return families.map((family) => ({
    family,
    cells: records.map((r): SweepCell => {
      const c = emptyCell();
      const points: string[] = [];
      for (const row of r.sweep?.matrix ?? []) {
        if (familyOf(row.point) !== family) continue;
        const p = emptyCell();
        for (const cell of Object.values(row.cells)) if (cell !== undefined) addCell(p, cell);
        addCell(c, p);
        points.push(`${row.point}: ${p.graceful}/${p.injected} graceful of ${p.discovered} failure IDs${p.findings > 0 ? `, ${p.findings} with findings` : ""}`);
      }
      return { mark: sweepMark(c), ...c, points };
    }),
  }));
}

export function buildMatrix(records: readonly TargetRecord[], o: MatrixOptions): MatrixModel {
  const notes = new Notes();
  const shown = records.map((r) => ({ ...r, suites: o.suites ? r.suites : null, sweep: o.sweeps ? r.sweep : null }));
  // the summary's reasons are cited first: the notes read in the page's order
  const columns = shown.map((r): Column => {
    const suitesError = o.suites ? r.suitesError : null;
    const sweepError = o.sweeps ? r.sweepError : null;
    return {
      name: r.name,
      ref: r.ref,
      unavailable: r.unavailable,
      unavailableNote: notes.cite(r.unavailable === null ? null : `${r.name} not run: ${r.unavailable}`),
      suites: suitesSummary(r),
      suitesError,
      suitesErrorNote: notes.cite(suitesError === null ? null : `${r.name}: the suites could not run: ${suitesError}`),
      sweep: sweepSummary(r),
      sweepError,
      sweepErrorNote: notes.cite(sweepError === null ? null : `${r.name}: the sweep could not run: ${sweepError}`),
    };
  });
  const suites = o.suites ? suiteGroups(shown, notes) : null;
  const sweep = o.sweeps ? sweepRows(shown) : null;
  const findings = shown.flatMap((r) => (r.sweep?.failureIds ?? []).filter((f) => f.outcome === "findings").map((f) => ({ target: r.name, id: f.id, findings: f.findings.map((x) => visible(x)), confirmed: f.confirmed, replay: f.replay })));
  const starts = shown.flatMap((r) => [r.suites?.startedAt, r.sweep?.startedAt]).filter((s): s is string => typeof s === "string").sort();
  return { kind: "matrix", startedAt: starts[0] ?? null, columns, suites, sweep, findings, notes: notes.texts };
}
