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
import { scriptTargetOf, targetDefines } from "../smtpscript/bind-target.js";
import { assertLoopback } from "../common/loopback.js";
import { existsSync } from "node:fs";
import { expectationsFileFor, listSuites, loadExpectations } from "../smtpscript/suites.js";
import { loadSuitePrograms, runSuites } from "../smtpscript/suite-run.js";
import type { JudgedResult } from "../smtpscript/suites.js";

export { SmtpSession, buildMessage, parseReplies } from "../smtp/index.js";
export type { Reply, ConnectOptions } from "../smtp/index.js";
export { targetNames, registerTarget } from "../targets/registry.js";
export type { TargetPlugin } from "../targets/registry.js";
export type { Target, Endpoint, DeliveredMessage, DeliveredIds, CrashInfo } from "../targets/target.js";
export { summarize } from "../smtpscript/result.js";
export type { RunResult, TestResult, TestFailure, Summary } from "../smtpscript/result.js";
export { runStorm } from "../storm/scheduler.js";
export type { StormOptions, StormResult } from "../storm/scheduler.js";
export { DEFAULT_MIX, validateMix } from "../storm/plan.js";
export { runMonkey } from "../monkey/run.js";
export type { MonkeyRunOptions, MonkeyReport } from "../monkey/run.js";
export { monkeyTarget } from "../monkey/targets.js";
export { validatePlan } from "../monkey/plan.js";

/** A started target: where it listens, its mailboxes, and its fault points for `monkey` statements. */
export interface TestTarget {
  readonly target: Target;
  readonly endpoint: Endpoint;
  readonly domain: string;
  readonly mailboxes: readonly string[];
  /** the target's `monkey` statements (null when it offers no fault points) */
  readonly faults: ScriptFaults | null;
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
  const { started, faults } = await startFaultableTarget(ref, options);
  return { target: started.target, endpoint: started.endpoint, domain: started.domain, mailboxes: started.mailboxes, faults, stop: started.stop };
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
  const managed = "endpoint" in where ? where : null;
  const server: ServerAddress = "endpoint" in where ? { host: where.endpoint.host, port: where.endpoint.port } : where;
  assertLoopback(server.host, options.allowRemote === true);
  const defines = managed !== null ? targetDefines(options.defines ?? {}, managed) : { ...options.defines };
  return runProgram(program, {
    server,
    defines,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.allowRemote === true ? { allowRemote: true } : {}),
    ...(managed !== null ? { target: scriptTargetOf(managed.target, managed.faults) } : {}),
  });
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
  if (suite === undefined) throw new RangeError(`no suite "${name}" (${listSuites().map((s) => s.name).join(", ")})`);
  const managed = "endpoint" in where ? where : null;
  const server: ServerAddress = "endpoint" in where ? { host: where.endpoint.host, port: where.endpoint.port } : where;
  assertLoopback(server.host, options.allowRemote === true);
  const defines = managed !== null ? targetDefines(options.defines ?? {}, managed) : { ...options.defines };
  const file = managed !== null ? expectationsFileFor(managed.target.name) : null;
  // the one suite runner `suite run` and `report matrix` use: the same size probe, skips and verdicts
  const judged = await runSuites({
    programs: loadSuitePrograms([suite], defines),
    server,
    label: managed !== null ? managed.target.name : `${server.host}:${server.port}`,
    defines,
    ...(managed !== null ? { target: scriptTargetOf(managed.target, managed.faults) } : {}),
    expectations: loadExpectations(file !== null && existsSync(file) ? file : null),
    timeoutMs: options.timeoutMs ?? 10_000,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.allowRemote === true ? { allowRemote: true } : {}),
  });
  return { results: judged.map((j) => j.result), judged, ok: judged.every((j) => j.verdict !== "failed" && j.verdict !== "error" && j.verdict !== "unexpected-pass") };
}

export { listSuites } from "../smtpscript/suites.js";
export type { JudgedResult, Suite } from "../smtpscript/suites.js";
export { ScriptError } from "../smtpscript/errors.js";
