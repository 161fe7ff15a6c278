// `smtpscript [options] FILE...` and `smtpchaos script ...`.
import { targetNames } from "../targets/registry.js";
import { EXIT } from "../common/exit-codes.js";
import { loadProgram } from "./parse.js";
import { ScriptError } from "./errors.js";
import { runProgram } from "./runner.js";
import type { ServerAddress } from "./runner.js";
import { REPORTERS } from "./reporters/index.js";
import type { RunResult, TestResult } from "./result.js";
import type { Program } from "./ast.js";
import { testCaseTitle } from "./ast.js";
import { parseAssignments } from "../common/assignments.js";
import { parseCli, parseCount, parseDurationFlag } from "../common/args.js";
import type { ChosenOutputs } from "../common/output.js";
import { loopbackUrl } from "../common/loopback.js";
import { reportUserError, UsageError } from "../common/errors.js";
import { chooseServer } from "../targets/server-choice.js";
import { bindServer } from "./bind-target.js";
import type { Binding } from "./bind-target.js";
import type { ScriptTarget } from "./runner.js";
import { scriptProviders } from "./providers.js";
import { declaredFaultPoints } from "./fault-points.js";
import { ORIGINAL_OPTIONS, ORIGINAL_USAGE, OriginalFlagError, checkScripts, originalFlags } from "./cli-original.js";
import type { OriginalFlags } from "./cli-original.js";

/** A server given by --host/--port: the toolkit cannot read its queue or mailboxes. */
const NO_TARGET: ScriptTarget = {
  delivered: () => Promise.reject(new Error("'expect delivered' needs --target (the toolkit reads the target's mailboxes)")),
  flushQueue: () => Promise.reject(new Error("flushing the queue needs --target")),
  queueSize: () => Promise.reject(new Error("reading the queue needs --target")),
};

/** Neither --target nor --host/--port: the original's default, an MTA on this machine's port 25. */
const DEFAULT_SERVER = { host: "127.0.0.1", port: 25 };

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

interface Parsed {
  files: string[];
  /** with --target, only its tls/starttls flags are used */
  server: ServerAddress;
  target: string | null;
  timeoutMs: number;
  defines: Record<string, string>;
  reporters: ChosenOutputs<RunResult, TestResult>;
  jobs: number;
  grep: RegExp | null;
  monkey: string | null;
  allowRemote: boolean;
  allowEmpty: boolean;
  original: OriginalFlags;
}

function parse(argv: string[]): Parsed | "help" {
  const { values, positionals } = parseCli({
    args: argv,
    allowPositionals: true,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      target: { type: "string" },
      tls: { type: "boolean" },
      starttls: { type: "boolean" },
      timeout: { type: "string" },
      define: { type: "string", short: "D", multiple: true },
      reporter: { type: "string", multiple: true },
      output: { type: "string" },
      jobs: { type: "string", short: "j" },
      monkey: { type: "string" },
      grep: { type: "string" },
      "allow-remote": { type: "boolean" },
      "allow-empty": { type: "boolean" },
      verbose: { type: "boolean", short: "v" },
      "no-color": { type: "boolean" },
      help: { type: "boolean", short: "h" },
      ...ORIGINAL_OPTIONS,
    },
  });
  if (values.help === true) return "help";
  if (positionals.length === 0) throw new UsageError("no script file given");
  const chosen = chooseServer(values, { otherwise: DEFAULT_SERVER, what: "connect to" });
  const allowRemote = values["allow-remote"] === true;
  if (values.monkey !== undefined) loopbackUrl(values.monkey, "--monkey", allowRemote);
  let defines: Record<string, string>;
  try {
    defines = parseAssignments(values.define, "-D");
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let original: OriginalFlags;
  try {
    original = originalFlags(values);
  } catch (err) {
    if (!(err instanceof OriginalFlagError)) throw err;
    throw new UsageError(err.message);
  }
  const verbose = values.verbose === true;
  const color = values["no-color"] !== true && process.env.NO_COLOR === undefined;
  const reporters = REPORTERS.choose({ out: values.reporter ?? (original.tap ? ["tap"] : []), lastTo: { flag: "--output", file: values.output } }, { verbose, color });
  const jobs = values.jobs === undefined ? 1 : parseCount(values.jobs, "--jobs");
  let grep: RegExp | null = null;
  if (values.grep !== undefined) {
    try {
      grep = new RegExp(values.grep);
    } catch (err) {
      throw new UsageError(`--grep: ${(err as Error).message}`);
    }
  }
  // 0 is refused rather than read as "no timeout": a CI job must never wait forever.
  const timeoutMs = values.timeout === undefined ? 10_000 : parseDurationFlag(values.timeout, "--timeout");
  return {
    files: positionals,
    // with --target, the address is the target's once it runs (bindServer)
    server: { ...("target" in chosen ? DEFAULT_SERVER : chosen), tls: values.tls === true, starttls: values.starttls === true },
    target: "target" in chosen ? chosen.target : null,
    timeoutMs,
    defines,
    reporters,
    jobs,
    grep,
    monkey: values.monkey ?? null,
    allowRemote,
    allowEmpty: values["allow-empty"] === true,
    original,
  };
}

export async function main(argv: string[]): Promise<number> {
  let opts: Parsed | "help";
  try {
    opts = parse(argv);
  } catch (err) {
    return reportUserError(err, "smtpscript");
  }
  if (opts === "help") {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (opts.original.check) return checkScripts(opts.files, Object.keys(opts.defines));
  const programs: Program[] = [];
  for (const file of opts.files) {
    try {
      programs.push(loadProgram(file, { knownVariables: Object.keys(opts.defines) }));
    } catch (err) {
      if (err instanceof ScriptError) {
        console.error(err.format());
        return EXIT.usage;
      }
      throw err;
    }
  }
  const empty = emptySelection(programs, opts);
  if (empty !== null) {
    console.error(`smtpscript: ${empty}${opts.allowEmpty ? "" : " (pass --allow-empty to accept that)"}`);
    if (!opts.allowEmpty) return EXIT.usage;
  }

  let binding: Binding;
  try {
    binding = await bindServer({ target: opts.target, server: opts.server, defines: opts.defines }, { mayFire: declaredFaultPoints(programs) });
  } catch (err) {
    return reportUserError(err, "smtpscript");
  }
  try {
    if (opts.monkey !== null) {
      const remote = scriptProviders().remoteFaults;
      if (remote === undefined) {
        console.error("smtpscript: --monkey: this build has no monkey control client (run smtpscript or smtpchaos script)");
        return EXIT.usage;
      }
      try {
        binding.target = { ...(binding.target ?? NO_TARGET), faults: await remote(opts.monkey) };
      } catch (err) {
        // the client's errors are the user's: a bad URL, a wrong token, an unreachable API
        console.error(`smtpscript: --monkey: ${(err as Error).message}`);
        return EXIT.usage;
      }
    }
    return await runAll(programs, opts, binding);
  } finally {
    await binding.stop();
  }
}

async function runAll(programs: Program[], opts: Parsed, binding: Binding): Promise<number> {
  const { server, defines, target: scriptTarget } = binding;
  const collected: TestResult[] = [];
  const started = Date.now();
  const finish = async (results: TestResult[], target: string): Promise<boolean> => {
    const run: RunResult = {
      target,
      files: opts.files,
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      seed: opts.original.seed,
      results,
    };
    const written = await opts.reporters.finish(run, "smtpscript");
    // not the original's output: stderr, so stdout stays the original's line for line
    if (run.seed !== undefined) process.stderr.write(`seed: ${run.seed}\n`);
    return written;
  };
  const target = binding.label;
  // Ctrl-C: report what already ran, stop the target we started, then exit 130.
  const onSigint = (): void => {
    console.error("\nsmtpscript: interrupted; reporting the test-cases that completed");
    void finish(collected, target)
      .then(() => binding.stop())
      .finally(() => process.exit(EXIT.interrupted));
  };
  process.once("SIGINT", onSigint);
  try {
    for (const program of programs) {
      const offset = collected.length;
      await runProgram(program, {
        server,
        targetLabel: target,
        timeoutMs: opts.timeoutMs,
        defines,
        target: scriptTarget,
        jobs: opts.jobs,
        allowRemote: opts.allowRemote,
        seed: opts.original.seed,
        delayMs: opts.original.delayMs,
        randomDelay: opts.original.randomDelay,
        filter: opts.grep === null ? undefined : (name) => (opts.grep as RegExp).test(name),
        onResult: (result, i) => {
          collected[offset + i] = result;
          opts.reporters.progress(result);
        },
      });
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
  const written = await finish(collected, target);
  const active = collected.filter((r) => r.status !== "skipped");
  if (active.length > 0 && active.every((r) => r.failure?.type === "connect")) {
    console.error(`smtpscript: server unreachable: ${active[0]?.failure?.message ?? ""}`);
    return EXIT.usage;
  }
  if (collected.some((r) => r.status === "failed" || r.status === "error")) return EXIT.failures;
  return written ? EXIT.ok : EXIT.usage;
}

/** "no test-case in FILE" (or none matching --grep): nothing would run, which CI must notice. */
function emptySelection(programs: Program[], opts: Parsed): string | null {
  const empty = programs.filter((p) => p.testCases.length === 0).map((p) => p.file);
  if (empty.length > 0) return `no test-case in ${empty.join(", ")}`;
  const grep = opts.grep;
  if (grep !== null && !programs.some((p) => p.testCases.some((t) => grep.test(testCaseTitle(t))))) return `no test-case matches --grep ${grep.source}`;
  return null;
}
