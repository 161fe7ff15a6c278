// What `smtpchaos storm` does once configured and its target runs: one storm (progress lines,
// the first failed session shrunk, outputs, the verdict) or a --find-limit search.
import { EXIT } from "../common/exit-codes.js";
import { formatDuration } from "../common/duration.js";
import { writeReport } from "../common/output-file.js";
import { isFailureRule } from "./scheduler.js";
import { runStorm as runJudged, StormUnreachableError } from "./run.js";
import type { StormRun } from "./run.js";
import { reportUserError } from "../common/errors.js";
import type { StormOptions, StormResult } from "./scheduler.js";
import type { Metrics } from "./metrics.js";
import type { SessionTarget } from "./session.js";
import { findLimit } from "./find-limit.js";
import { segmentOptions } from "./segment.js";
import { shrinkFailure, shrunkScript } from "./shrink.js";
import type { LimitSearch, OneStorm, StormConfig } from "./cli-config.js";

/** The interrupts: the first stops starting sessions, the second cuts those in flight. */
export interface Stop {
  signal: AbortSignal;
  cutSignal: AbortSignal;
}

export async function runOne(config: StormConfig, storm: OneStorm, target: SessionTarget, label: string, stop: Stop): Promise<number> {
  const tty = process.stderr.isTTY === true;
  const { shard, workers, seed } = config;
  const load = "stages" in storm.level ? `stages ${storm.level.spec} (${storm.model} loop)` : storm.model === "open" ? `${storm.level.constant}/s arrivals (open loop)` : `${storm.level.constant} concurrent sessions`;
  const parts = `${shard !== undefined ? `, shard ${shard.index + 1}/${shard.count}` : ""}${workers > 1 ? `, ${workers} worker threads` : ""}`;
  console.error(`storm: ${load} for ${formatDuration(storm.durationMs)} against ${label}, seed ${seed}${parts}`);
  // the verdict the library gives (storm/run.ts); nothing connected is still reported, then exit 2
  let result: StormRun;
  let unreachable: StormUnreachableError | null = null;
  try {
    result = await runJudged({
      ...options(config, storm, target),
      workers,
      ...stop,
      ...(storm.slowSessionMs !== undefined ? { slowSessionMs: storm.slowSessionMs } : {}),
      onTick: (m, elapsed) => progress(m, elapsed, storm.durationMs, tty),
      thresholds: storm.thresholds,
      allowRemote: config.allowRemote,
    });
  } catch (err) {
    if (!(err instanceof StormUnreachableError)) throw err;
    unreachable = err;
    result = err.run;
  }
  if (tty) process.stderr.write("\n");
  if (shard !== undefined) result.shard = { ...shard, runSeed: seed };
  // lines for people: on stderr when a document (--out json) has stdout
  const info = config.outputs.stdoutTaken ? console.error : console.log;
  const shrunk = await shrink(config, storm, target, result, info);
  let written = shrunk?.written ?? true;
  if (!(await config.outputs.finish({ kind: "storm", result, label, thresholds: result.thresholds, shrunk: shrunk?.report ?? null }, "smtpchaos storm"))) written = false;
  if (result.interrupted) return EXIT.interrupted;
  if (unreachable !== null) return reportUserError(unreachable, "smtpchaos storm");
  if (!written) return EXIT.usage;
  if (shrunk?.report?.reproduced === true) return EXIT.failures;
  return result.passed ? EXIT.ok : EXIT.failures;
}

/** This process's part of the run: the options describe the whole, a shard's segment cuts it. */
function options(config: StormConfig, storm: OneStorm, target: SessionTarget): StormOptions {
  const level = "stages" in storm.level ? { stages: storm.level.stages } : storm.model === "open" ? { rate: storm.level.constant } : { concurrency: storm.level.constant };
  const whole: StormOptions = {
    target,
    model: storm.model,
    ...level,
    durationMs: storm.durationMs,
    maxSessions: storm.maxSessions,
    maxMessages: storm.maxMessages,
    maxInFlight: config.maxInFlight,
    mix: config.mix,
    seed: config.seed,
  };
  return config.shard === undefined ? whole : segmentOptions(whole, config.shard);
}

/** The live line: redrawn in place on a terminal, a line every 5 s in logs. */
function progress(m: Metrics, elapsed: number, durationMs: number, tty: boolean): void {
  const rate = m.timeline.at(-1)?.accepted ?? 0;
  const eta = Math.max(0, (durationMs - elapsed) / 1000).toFixed(0);
  const line = `${(elapsed / 1000).toFixed(0).padStart(4)}s  sessions ${m.sessions}  in flight ${m.inFlight}  accepted ${m.accepted} (${rate}/s)  4xx/5xx ${m.count("tempfail") + m.count("permfail")}  ungraceful ${m.ungraceful()}${m.dropped > 0 ? `  dropped ${m.dropped}` : ""}  eta ${eta}s`;
  if (tty) process.stderr.write(`\r${line}\x1b[K`);
  else if (Math.round(elapsed / 1000) % 5 === 0) process.stderr.write(line + "\n");
}

interface Shrunk {
  /** what the report says of the shrinking; null when no session failed */
  report: Record<string, unknown> | null;
  /** false when the script could not be written */
  written: boolean;
}

/** --shrink-out: the first failed session, replayed alone and shrunk to the smallest failing dialogue (null without the flag). */
async function shrink(config: StormConfig, storm: OneStorm, target: SessionTarget, result: StormResult, info: (line: string) => void): Promise<Shrunk | null> {
  if (storm.shrink === null) return null;
  const { file, timeLimitMs } = storm.shrink;
  const f = result.failure;
  if (f === null) {
    info("shrink: no session failed; nothing to shrink");
    return { report: null, written: true };
  }
  info(`shrink: first failed session: ${f.plan.kind} -> ${f.outcome} (origin seed ${f.origin.seed} path ${f.origin.path}); shrinking against the target...`);
  const isFailure = isFailureRule(storm.slowSessionMs);
  const s = await shrinkFailure({ failure: f, mix: config.mix, target, isFailure, timeLimitMs });
  let written = true;
  if (!s.reproduced) info("shrink: replaying that session alone did not fail again (the failure depends on load); no script written");
  else {
    written = writeReport(file, shrunkScript(s, f, target.rcpt, config.seed), "smtpchaos storm");
    info(`shrink: ${s.shrinks} steps, ${s.runs} sessions; smallest failing plan ${JSON.stringify(s.plan)} -> ${s.outcome ?? "?"}; written to ${file}`);
    info(`        rerun it: smtpscript --host ${target.host} --port ${target.port} ${file}`);
  }
  return { report: { reproduced: s.reproduced, plan: s.plan, outcome: s.outcome, shrinks: s.shrinks, runs: s.runs, file: s.reproduced ? file : null }, written };
}

export async function runFindLimit(config: StormConfig, search: LimitSearch, target: SessionTarget, label: string, stop: Stop): Promise<number> {
  const { kind: _kind, ...steps } = search;
  const { seed } = config;
  console.error(`storm: find-limit from ${steps.start} x${steps.factor} up to ${steps.maxLevel} ${steps.model === "open" ? "arrivals/s" : "sessions"}, ${formatDuration(steps.stepMs)} per step, against ${label}, seed ${seed}`);
  const r = await findLimit({
    ...steps,
    target,
    mix: config.mix,
    seed,
    maxInFlight: config.maxInFlight,
    workers: config.workers,
    ...stop,
    onStep: (s) => console.error(`  level ${s.level}: ${s.sessions} sessions, ${(s.errorRate * 100).toFixed(1)}% failed, p99 ${s.p99Ms.toFixed(0)} ms${s.degraded ? ` -> degraded (${s.reason})` : ""}`),
  });
  const written = await config.outputs.finish({ kind: "find-limit", result: r, label, seed }, "smtpchaos storm");
  if (r.interrupted) return EXIT.interrupted;
  if (!written) return EXIT.usage;
  // Failing ungracefully at the breaking point is what CI should catch.
  return r.shedding === "ungraceful" || r.shedding === "mixed" ? EXIT.failures : EXIT.ok;
}
