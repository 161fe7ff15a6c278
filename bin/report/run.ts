// One column of the matrix: the shipped suites through suite run's own library function
// (smtpscript/suite-run.ts), then a fault sweep through monkey sweep's (runSweep). A part that
// cannot run (the target does not start, nothing to sweep) is recorded with why, never thrown:
// one target's trouble must not cost the other columns.
import { relative } from "node:path";
import { listSuites, loadExpectations } from "../../smtpscript/suites.js";
import { loadSuitePrograms, runSuites, targetExpectations } from "../../smtpscript/suite-run.js";
import { bindServer } from "../../smtpscript/bind-target.js";
import { declaredFaultPoints } from "../../smtpscript/fault-points.js";
import { ScriptError } from "../../smtpscript/errors.js";
import { runSweep, type SweepReport } from "../../monkey/sweep/sweep.js";
import { monkeyTarget } from "../../monkey/targets.js";
import type { Seed } from "../../common/rng.js";
import { slimJudged, type SuitesRecord, type TargetRecord } from "./records.js";

export interface ColumnOptions {
  suites: boolean;
  sweeps: boolean;
  budgetMs: number;
  seed: Seed;
  signal: AbortSignal;
  /** progress lines for people */
  say: (text: string) => void;
}

/** suite run's defaults for a --target run */
const SUITE_TIMEOUT_MS = 10_000;
/** monkey sweep's default per-reply timeout */
const SWEEP_TIMEOUT_MS = 30_000;

export async function runSuitesOn(ref: string, o: Pick<ColumnOptions, "signal" | "say">): Promise<SuitesRecord> {
  const source = targetExpectations(ref);
  const expectations = loadExpectations(source);
  const programs = loadSuitePrograms(listSuites(), {});
  const binding = await bindServer({ server: { target: ref, tls: false, starttls: false }, defines: {} }, { mayFire: declaredFaultPoints(programs) });
  const started = Date.now();
  try {
    o.say(`suites against ${binding.label}`);
    const judged = await runSuites({
      programs,
      server: binding.server,
      label: binding.label,
      defines: binding.defines,
      ...(binding.target !== undefined ? { target: binding.target } : {}),
      expectations,
      timeoutMs: SUITE_TIMEOUT_MS,
      signal: o.signal,
    });
    return {
      kind: "suites",
      target: ref,
      label: binding.label,
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      expectations: expectations.source === null ? null : relative(process.cwd(), expectations.source),
      interrupted: o.signal.aborted,
      judged: judged.map(slimJudged),
    };
  } finally {
    await binding.stop();
  }
}

export function runSweepOn(ref: string, o: Pick<ColumnOptions, "budgetMs" | "seed" | "signal" | "say">): Promise<SweepReport> {
  return runSweep({
    createTarget: (extra) => monkeyTarget(ref, extra),
    targetRef: ref,
    seed: o.seed,
    points: null,
    phases: null,
    choice: {},
    budgetMs: o.budgetMs,
    timeoutMs: SWEEP_TIMEOUT_MS,
    signal: o.signal,
    onStage: (t) => o.say(`sweep: ${t}`),
  });
}

/** Why a part failed, in one line: a shipped script that does not parse says where. */
function why(err: unknown): string {
  if (err instanceof ScriptError) return err.format().split("\n")[0] ?? err.message;
  return err instanceof Error ? err.message : String(err);
}

/** Runs what was asked of one target; its record says what ran and why the rest did not. */
export async function runColumn(name: string, ref: string, o: ColumnOptions): Promise<TargetRecord> {
  const r: TargetRecord = { name, ref, unavailable: null, suites: null, suitesError: null, sweep: null, sweepError: null };
  if (o.suites && !o.signal.aborted) {
    try {
      r.suites = await runSuitesOn(ref, o);
      o.say(`suites done in ${Math.round(r.suites.durationMs / 1000)}s: ${r.suites.judged.length} test-cases`);
    } catch (err) {
      r.suitesError = why(err);
      o.say(`suites could not run: ${r.suitesError}`);
    }
  }
  if (o.sweeps && !o.signal.aborted) {
    try {
      r.sweep = await runSweepOn(ref, o);
      o.say(`sweep done: ${r.sweep.verdict}`);
    } catch (err) {
      r.sweepError = why(err);
      o.say(`sweep could not run: ${r.sweepError}`);
    }
  }
  if (o.signal.aborted) {
    if (o.suites && r.suites === null && r.suitesError === null) r.suitesError = "interrupted before it ran";
    if (o.sweeps && r.sweep === null && r.sweepError === null) r.sweepError = "interrupted before it ran";
  }
  return r;
}
