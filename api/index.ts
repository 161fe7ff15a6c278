// The public library: `import { startTarget, runScript } from "smtpchaos"`. A small, typed
// surface over the tools, for an MTA's own test suite: start a target (or point at a server
// you run), run smtpscript against it, flood it, or run the monkey, and read the results.
// Like the CLIs, it composes the tools (the monkey's fault wiring behind `monkey` statements).
// The declarations name Node's types (Buffer, node:tls), and a user's tsconfig may list only
// some `types`: this directive (kept in index.d.ts by `preserve`) pulls in @types/node, a
// dependency of the package, wherever the user's tsconfig looks.
/// <reference types="node" preserve="true" />
import { loadProgram } from "../smtpscript/parse.js";
import { runProgram } from "../smtpscript/runner.js";
import type { ScriptFaults, ServerAddress } from "../smtpscript/runner.js";
import type { RunResult } from "../smtpscript/result.js";
import { summarize } from "../smtpscript/result.js";
import type { Endpoint, Target } from "../targets/target.js";
import { startFaultableTarget } from "../monkey/targets.js";
import { managedScriptTarget, targetDefines } from "../smtpscript/bind-target.js";
import { assertLoopback } from "../common/loopback.js";
import { UsageError } from "../common/errors.js";
import { listSuites, loadExpectations, unexpectedResults } from "../smtpscript/suites.js";
import { targetExpectations } from "../smtpscript/suite-run.js";
import { loadSuitePrograms, runSuites } from "../smtpscript/suite-run.js";
import type { JudgedResult } from "../smtpscript/suites.js";

export { SmtpSession, buildMessage, parseReplies } from "../smtp/index.js";
export type { Reply, ConnectOptions } from "../smtp/index.js";
export { targetNames, registerTarget } from "../targets/registry.js";
export type { TargetPlugin } from "../targets/registry.js";
export type { Target, Endpoint, DeliveredMessage, DeliveredIds, CrashInfo } from "../targets/target.js";
export { summarize } from "../smtpscript/result.js";
export type { RunResult, TestResult, TestFailure, Summary } from "../smtpscript/result.js";
export { runStorm, mergeStorms, writeStormReports, StormUnreachableError } from "../storm/run.js";
export { writeMonkeyReports } from "../monkey/outputs/index.js";
export type { StormRunOptions, StormRun, MergeStormsOptions } from "../storm/run.js";
export type { StormOptions, StormResult, LoadModel } from "../storm/scheduler.js";
export type { SessionTarget } from "../storm/endpoint.js";
export type { Metrics, Outcome as SessionOutcome } from "../storm/metrics.js";
export { parseThreshold } from "../storm/thresholds.js";
export type { Threshold } from "../storm/thresholds.js";
export type { ThresholdResult, StormJson } from "../storm/report.js";
export { toJson as stormJson } from "../storm/report.js";
export { DEFAULT_MIX, validateMix } from "../storm/plan.js";
export type { Mix } from "../storm/plan.js";
export { loadMixFile } from "../storm/mix-file.js";
export type { Merged } from "../storm/merge.js";
export { runMonkey } from "../monkey/run.js";
export type { MonkeyRunOptions, MonkeyReport } from "../monkey/run.js";
export type { LedgerReport } from "../monkey/ledger.js";
export type { JudgedOutcome, FindingKind } from "../monkey/oracle.js";
export { nextHopOf } from "../monkey/layers/units/nexthop.js";
export type { NextHopDetails } from "../monkey/layers/units/nexthop.js";
export { monkeyTarget } from "../monkey/targets.js";
export { validatePlan, loadPlanFile } from "../monkey/plan.js";
export type { FaultPlan, FaultSpec } from "../monkey/plan.js";
export { loadTargetFile } from "../targets/file/load.js";
export type { TargetFileSpec } from "../targets/file/spec.js";
export { loadExpectations } from "../smtpscript/suites.js";
export { EXIT } from "../common/exit-codes.js";
export type { ExitCode } from "../common/exit-codes.js";
export { parseSeed, randomSeed } from "../common/rng.js";
export type { Seed } from "../common/rng.js";
// Every error a user can fix is a UserError with the CLI's exit code: branch with instanceof.
export { UserError, UsageError, UnreachableError } from "../common/errors.js";
export { RemoteTargetError } from "../common/loopback.js";
export { UnknownTargetError, TargetUnavailableError, TargetStartError } from "../targets/errors.js";
export { TargetFileError } from "../targets/file/spec.js";
export { SinkListenError } from "../targets/sink/recording-sink.js";
export { MixError } from "../storm/plan.js";
export { ThresholdError } from "../storm/thresholds.js";
export { StagesError } from "../storm/profile.js";
export { MergeError } from "../storm/merge.js";
export { PlanError, WindowsError } from "../monkey/plan.js";
export { UnsupportedPointsError } from "../monkey/layers/set.js";
export { TargetProbeError } from "../targets/external/target.js";
export { ExpectationsError } from "../smtpscript/suites.js";

/** A started target: where it listens, its mailboxes, and its fault points for `monkey` statements. */
export interface TestTarget {
  readonly target: Target;
  readonly endpoint: Endpoint;
  readonly domain: string;
  readonly mailboxes: readonly string[];
  /** the target's `monkey` statements (null when it offers no fault points) */
  readonly faults: ScriptFaults | null;
  /** its expectations file (a target file's `expectations:`, else suites/expectations/NAME.yaml), as `suite run --target` uses */
  readonly expectations: string;
  /** stops the target (by its PID) and its fault wiring; call it in an after() hook */
  stop(): Promise<void>;
}

/**
 * Starts a target: "embedded" (no root), "opensmtpd", "postfix", "exim", or a path to a
 * NAME.target.yaml file, with the fault wiring `monkey` statements need. `options.mayFire`
 * lists the fault points your scripts' `monkey` statements may fire (globs `sys.*`, `*`): libfiu
 * and the seccomp supervisor are attached to a real MTA only for those (default: none, so an
 * MTA is never changed by a mechanism it does not need).
 */
export async function startTarget(ref: string, options: Record<string, unknown> = {}): Promise<TestTarget> {
  const expectations = targetExpectations(ref);
  const { started, faults } = await startFaultableTarget(ref, options);
  return { target: started.target, endpoint: started.endpoint, domain: started.domain, mailboxes: started.mailboxes, faults, expectations, stop: started.stop };
}

export interface ScriptOptions {
  /** default timeout of every wait, ms (10 s) */
  timeoutMs?: number;
  /** every random choice of the script; printed with failures, replays the run */
  seed?: number;
  /** variables (-D NAME=VALUE) */
  defines?: Readonly<Record<string, string>>;
  /** permit a server off loopback (refused otherwise, as by every CLI) */
  allowRemote?: boolean;
}

/**
 * Runs smtpscript (a file, or source text) against a started target or a server you run.
 * Throws a ScriptError (located, `.format()` shows the line) for a script that does not parse;
 * test-case failures are results, not exceptions.
 */
export async function runScript(script: { file: string } | { source: string; name?: string }, where: TestTarget | ServerAddress, options: ScriptOptions = {}): Promise<RunResult> {
  const program = "file" in script ? loadProgram(script.file) : loadProgram(script.name ?? "inline.smtp", { readFile: () => script.source, knownVariables: Object.keys(options.defines ?? {}) });
  const { managed, server, defines } = reach(where, options);
  return runProgram(program, {
    server,
    defines,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.allowRemote === true ? { allowRemote: true } : {}),
    ...(managed !== null ? { target: managedScriptTarget(managed.target, managed.faults) } : {}),
  });
}

/** Where scripts connect (refused off loopback unless allowed), and their variables with a started target's domain and mailbox. */
function reach(where: TestTarget | ServerAddress, options: ScriptOptions): { managed: TestTarget | null; server: ServerAddress; defines: Record<string, string> } {
  const managed = "endpoint" in where ? where : null;
  const server: ServerAddress = managed !== null ? { host: managed.endpoint.host, port: managed.endpoint.port } : (where as ServerAddress);
  assertLoopback(server.host, options.allowRemote === true);
  return { managed, server, defines: managed !== null ? targetDefines(options.defines ?? {}, managed) : { ...options.defines } };
}

/** True when every test-case passed (or was skipped); for `assert.ok(allPassed(r), ...)`. */
export function allPassed(r: RunResult): boolean {
  const s = summarize(r.results);
  return s.failed === 0 && s.error === 0 && s.total > 0;
}

export interface SuiteRun {
  /** every test-case of the suite's files, as they ran */
  results: RunResult["results"];
  /** each judged by the target's expectations (suites/expectations/TARGET.yaml): a known deviation is not a failure */
  judged: JudgedResult[];
  /** true when nothing failed or errored beyond what the expectations list */
  ok: boolean;
}

/**
 * Runs one shipped suite (`listSuites()` names them) against a started target, judged by that
 * target's expectations file when it has one, or against a server you run, judged strictly.
 */
export async function runSuite(name: string, where: TestTarget | ServerAddress, options: ScriptOptions = {}): Promise<SuiteRun> {
  const suite = listSuites().find((s) => s.name === name);
  if (suite === undefined) throw new UsageError(`no suite "${name}" (${listSuites().map((s) => s.name).join(", ")})`);
  const { managed, server, defines } = reach(where, options);
  // the one suite runner `suite run` and `report matrix` use: the same size probe, skips and verdicts
  const judged = await runSuites({
    programs: loadSuitePrograms([suite], defines),
    server,
    label: managed !== null ? managed.target.name : `${server.host}:${server.port}`,
    defines,
    ...(managed !== null ? { target: managedScriptTarget(managed.target, managed.faults) } : {}),
    expectations: loadExpectations(managed?.expectations ?? null),
    timeoutMs: options.timeoutMs ?? 10_000,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.allowRemote === true ? { allowRemote: true } : {}),
  });
  return { results: judged.map((j) => j.result), judged, ok: unexpectedResults(judged) === 0 };
}

export { listSuites } from "../smtpscript/suites.js";
export type { JudgedResult, Suite } from "../smtpscript/suites.js";
export { ScriptError } from "../smtpscript/errors.js";
// Plug-ins: the format, loading, and what their units are written with.
export { definePlugin, loadPlugin, registerPlugin } from "./plugin.js";
export type { SmtpchaosPlugin } from "./plugin.js";
export { PluginError } from "../common/plugins.js";
export { registerLayer } from "../monkey/layers/registry.js";
export type { FaultLayerUnit, LayerInstance, AttachContext, StartContext, LayerReport, PointKind } from "../monkey/layers/unit.js";
export type { ReachInfo } from "../monkey/reach.js";
export { registerKind } from "../storm/kinds/index.js";
export { defineKind, plainPlan } from "../storm/kinds/kind.js";
export type { StormKind, SessionPlan, KindContext, CommonDraw } from "../storm/kinds/kind.js";
export { runWire } from "../storm/kinds/wire.js";
export { registerReporter } from "../smtpscript/suite-reporters/index.js";
export type { ReporterKind } from "../smtpscript/reporters/index.js";
export { textOutput, liveOutput } from "../common/output.js";
export type { OutputKind, Output, Destination } from "../common/output.js";
export type { StormOutcome } from "../storm/outputs/index.js";
export type { TargetStatus, RoleProcess } from "../targets/target.js";

export { RecordingSink } from "../targets/sink/recording-sink.js";
