// `smtpscript [options] FILE...` and `smtpchaos script ...`: the configuration (cli-config.ts), run.
import { targetNames } from "../targets/registry.js";
import { EXIT } from "../common/exit-codes.js";
import { reportUserError } from "../common/errors.js";
import { loadProgram } from "./parse.js";
import { reportScriptError } from "./errors.js";
import { runProgram } from "./runner.js";
import { onTestInterrupt } from "./interrupts.js";
import type { ScriptTarget } from "./runner.js";
import { REPORTERS } from "./reporters/index.js";
import type { RunResult, TestResult } from "./result.js";
import type { Program } from "./ast.js";
import { testCaseTitle } from "./ast.js";
import { bindServer } from "./bind-target.js";
import type { Binding } from "./bind-target.js";
import { scriptProviders } from "./providers.js";
import { declaredFaultPoints } from "./fault-points.js";
import { ORIGINAL_USAGE, checkScripts } from "./cli-original.js";
import { parseScriptArgs } from "./cli-config.js";
import type { ScriptConfig } from "./cli-config.js";

/** A server given by --host/--port: the toolkit cannot read its queue or mailboxes. */
const NO_TARGET: ScriptTarget = {
  delivered: () => Promise.reject(new Error("'expect delivered' needs --target (the toolkit reads the target's mailboxes)")),
  flushQueue: () => Promise.reject(new Error("flushing the queue needs --target")),
  queueSize: () => Promise.reject(new Error("reading the queue needs --target")),
};

export const USAGE = `usage: smtpscript [options] FILE...

Runs smtpscript test-cases against an SMTP server (see smtpscript/README.md).

target (one of):
  --host HOST            server address (default 127.0.0.1); loopback only unless
                         --allow-remote (names other than localhost are never resolved)
  --port PORT            server port (default 25)
  --target NAME|FILE     start a target the toolkit manages (${targetNames().join(", ")},
                         or a NAME.target.yaml target file) and test it
options:
  --tls                  implicit TLS from the first byte (SMTPS)
  --starttls             EHLO + STARTTLS before each test-case starts
  --allow-remote         permit a non-loopback --host and --monkey URL
  --timeout DURATION     timeout of every wait (default 10s; e.g. 500ms, 30s; > 0)
  -D, --define NAME=VAL  set a script variable (overrides 'set' in the script)
  --reporter NAME[=FILE] a report, repeatable (or a comma list: tap,junit=r.xml); without
                         =FILE, or with FILE "-", it goes to stdout (the console's lines
                         then go to stderr); reporters:
${REPORTERS.help("                           ")}
  --output FILE          write the (last) non-console report to FILE
  --monkey URL           'monkey' statements go to this control API ('smtpchaos monkey
                         serve' prints it), e.g. for a real MTA's fault points
  -j, --jobs N           run N test-cases at once (output stays in order)
  --grep REGEX           run only test-cases whose name matches
  --allow-empty          a FILE without test-cases (or a --grep matching none) is not
                         an error: exit 0 with a note (by default it exits 2)
  -v, --verbose          show transcripts of passing test-cases too
  --no-color             no colours on the console
  -h, --help             this help
${ORIGINAL_USAGE}

exit codes: 0 all passed, 1 a test-case failed or errored,
            2 usage error, script error, no test-case to run, unreachable server, or a report
            file that could not be written, 130 interrupted`;

export async function main(argv: string[]): Promise<number> {
  let config: ScriptConfig | "help";
  try {
    config = parseScriptArgs(argv);
  } catch (err) {
    return reportUserError(err, "smtpscript");
  }
  if (config === "help") {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (config.original.check) return checkScripts(config.files, Object.keys(config.defines));
  return run(config);
}

async function run(config: ScriptConfig): Promise<number> {
  let programs: Program[];
  try {
    programs = config.files.map((file) => loadProgram(file, { knownVariables: Object.keys(config.defines) }));
  } catch (err) {
    return reportScriptError(err);
  }
  const empty = emptySelection(programs, config);
  if (empty !== null) {
    console.error(`smtpscript: ${empty}${config.allowEmpty ? "" : " (pass --allow-empty to accept that)"}`);
    if (!config.allowEmpty) return EXIT.usage;
  }
  let binding: Binding;
  try {
    binding = await bindServer({ server: config.server, defines: config.defines }, { mayFire: declaredFaultPoints(programs) });
  } catch (err) {
    return reportUserError(err, "smtpscript");
  }
  try {
    if (config.monkey !== null && !(await attachMonkey(binding, config.monkey))) return EXIT.usage;
    return await runAll(programs, config, binding);
  } finally {
    await binding.stop();
  }
}

/** `monkey` statements go to the control API at `url`; false (said on stderr) when they cannot. */
async function attachMonkey(binding: Binding, url: string): Promise<boolean> {
  const remote = scriptProviders().remoteFaults;
  if (remote === undefined) {
    console.error("smtpscript: --monkey: this build has no monkey control client (run smtpscript or smtpchaos script)");
    return false;
  }
  try {
    binding.target = { ...(binding.target ?? NO_TARGET), faults: await remote(url) };
    return true;
  } catch (err) {
    // the client's errors are the user's: a bad URL, a wrong token, an unreachable API
    console.error(`smtpscript: --monkey: ${(err as Error).message}`);
    return false;
  }
}

/** Runs every program in turn; a first interrupt lets the test-cases in flight finish, a second drops them. */
async function runAll(programs: Program[], config: ScriptConfig, binding: Binding): Promise<number> {
  const collected: TestResult[] = [];
  const started = Date.now();
  const interrupts = onTestInterrupt("smtpscript");
  try {
    for (const program of programs) {
      if (interrupts.signal.aborted) break;
      const offset = collected.length;
      await runProgram(program, {
        server: binding.server,
        targetLabel: binding.label,
        timeoutMs: config.timeoutMs,
        defines: binding.defines,
        target: binding.target,
        jobs: config.jobs,
        allowRemote: config.allowRemote,
        seed: config.original.seed,
        delayMs: config.original.delayMs,
        randomDelay: config.original.randomDelay,
        filter: config.grep === null ? undefined : (name) => (config.grep as RegExp).test(name),
        signal: interrupts.signal,
        cutSignal: interrupts.cut,
        onResult: (result, i) => {
          collected[offset + i] = result;
          config.reporters.progress(result);
        },
      });
    }
    const written = await report(collected, config, binding.label, started);
    return interrupts.signal.aborted ? EXIT.interrupted : verdict(collected, written);
  } finally {
    interrupts.off();
  }
}

/** Hands the results to every reporter; false when a report could not be written. */
async function report(results: TestResult[], config: ScriptConfig, target: string, started: number): Promise<boolean> {
  const runResult: RunResult = {
    target,
    files: config.files,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    seed: config.original.seed,
    results,
  };
  const written = await config.reporters.finish(runResult, "smtpscript");
  // not the original's output: stderr, so stdout stays the original's line for line
  if (runResult.seed !== undefined) process.stderr.write(`seed: ${runResult.seed}\n`);
  return written;
}

/** The exit code of a run that ended: nothing reached (2), a failure (1), a report not written (2), else 0. */
function verdict(results: TestResult[], written: boolean): number {
  const active = results.filter((r) => r.status !== "skipped");
  if (active.length > 0 && active.every((r) => r.failure?.type === "connect")) {
    console.error(`smtpscript: server unreachable: ${active[0]?.failure?.message ?? ""}`);
    return EXIT.usage;
  }
  if (results.some((r) => r.status === "failed" || r.status === "error")) return EXIT.failures;
  return written ? EXIT.ok : EXIT.usage;
}

/** "no test-case in FILE" (or none matching --grep): nothing would run, which CI must notice. */
function emptySelection(programs: Program[], opts: ScriptConfig): string | null {
  const empty = programs.filter((p) => p.testCases.length === 0).map((p) => p.file);
  if (empty.length > 0) return `no test-case in ${empty.join(", ")}`;
  const grep = opts.grep;
  if (grep !== null && !programs.some((p) => p.testCases.some((t) => grep.test(testCaseTitle(t))))) return `no test-case matches --grep ${grep.source}`;
  return null;
}
