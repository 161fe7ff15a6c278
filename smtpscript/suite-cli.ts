// `smtpchaos suite run [--target T | --host H --port P] [NAMES...]` (its configuration:
// suite-config.ts) and `smtpchaos suite list`.
import { targetNames } from "../targets/registry.js";
import { relative } from "node:path";
import { RecordingSink } from "../targets/sink/recording-sink.js";
import { EXIT } from "../common/exit-codes.js";
import { reportUserError, UnreachableError, UsageError } from "../common/errors.js";
import { visible } from "../common/visible.js";
import type { ChosenOutputs } from "../common/output.js";
import { reportScriptError } from "./errors.js";
import { declaredFaultPoints } from "./fault-points.js";
import { bindServer, hostScriptTarget, unreachableReason } from "./bind-target.js";
import type { Binding } from "./bind-target.js";
import { SUITE_REPORTERS } from "./suite-reporters/index.js";
import type { SuiteReport } from "./suite-reporters/index.js";
import { asReported, listSuites, loadExpectations, unexpectedResults } from "./suites.js";
import type { Expectations, JudgedResult } from "./suites.js";
import { loadSuitePrograms, runSuites, targetExpectations } from "./suite-run.js";
import { onTestInterrupt } from "./interrupts.js";
import type { Program } from "./ast.js";
import type { ScriptTarget } from "./runner.js";
import { parseSuiteRunArgs } from "./suite-config.js";
import type { GivenServer, SuiteRunConfig } from "./suite-config.js";

const USAGE = `usage: smtpchaos suite run [--target NAME | --host H --port P] [options] [SUITE...]
       smtpchaos suite list

Runs the shipped suites (all, or the named ones) and judges the results against the target's
expectations file (suites/expectations/NAME.yaml): a listed test-case that fails is a known
deviation, one that passes means the target's behaviour changed.

  --target NAME|FILE       ${targetNames().join(", ")} or a target file (started and stopped for the run)
  --host H --port P        a server you run (no expectations unless --expectations);
                           loopback only unless --allow-remote
  --allow-remote           permit a non-loopback --host
  --maildir DIR            with --host: a Maildir the server delivers to (repeatable), so the
                           test-cases with 'expect delivered' run; without it they are skipped
  --sink PORT              with --host: a server that relays; the toolkit runs its recording
                           SMTP sink on 127.0.0.1:PORT (configure the server to relay there) and
                           'expect delivered' reads what arrives
  --settle DURATION        with --maildir: deliveries are over once the Maildirs have not
                           changed for this long (default 5s); longer than the server's delay
  --tls                    implicit TLS from the first byte (SMTPS)
  --tls-port P             with --host: the server's implicit-TLS port (implies --tls)
  --starttls               EHLO + STARTTLS before each test-case starts
  --expectations FILE      expectations to apply instead of the target's own
                           (a mapping of deviations: / untestable:, else exit 2)
  --postconf NAME=VALUE    (postfix) a main.cf setting for the instance; repeatable
  --timeout DURATION       default wait timeout (10s)
  -D NAME=VALUE            script variables (with --host give -D rcpt=ADDR, a mailbox the
                           server delivers; -D domain defaults to its domain)
  --reporter NAME[=FILE]   a report of the judged results, repeatable (or a comma list);
                           without =FILE, or with FILE "-", it goes to stdout (the console's
                           lines then go to stderr); reporters:
${SUITE_REPORTERS.help("                             ")}
  -v, --verbose            details of known deviations too

The run probes EHLO once: size checks use the server's advertised SIZE (size_limit,
size_over, size_chunk); they are skipped with the reason when it advertises no limit.
An expectations file excuses failures, never an ERROR of the harness (script, internal).

exit codes: 0 only passes, skips and known deviations, 1 failures, errors or unexpected passes,
            2 usage error, script error, expectations error, unreachable target or a report
            file that could not be written`;

export async function main(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === "list") {
    for (const s of listSuites()) console.log(`${s.name.padEnd(12)} ${s.files.map((f) => f.split("/").pop()).join(", ")}`);
    return EXIT.ok;
  }
  if (action !== "run") {
    console.error(action === "--help" || action === "-h" ? USAGE : `smtpchaos suite: expected 'run' or 'list'\n\n${USAGE}`);
    return action === "--help" || action === "-h" ? EXIT.ok : EXIT.usage;
  }
  let config: SuiteRunConfig | "help";
  try {
    config = parseSuiteRunArgs(rest);
  } catch (err) {
    return reportUserError(err, "smtpchaos suite");
  }
  if (config === "help") {
    console.log(USAGE);
    return EXIT.ok;
  }
  return run(config);
}

/** What a run judges by and reports to, read before anything connects. */
interface Judging {
  expectations: Expectations;
  reporters: ChosenOutputs<SuiteReport, JudgedResult>;
  programs: Program[];
}

/** The server bound for the run: what 'expect delivered' reads, and a stop for everything started. */
interface Bound {
  binding: Binding;
  target: ScriptTarget | undefined;
  stop(): Promise<void>;
}

async function run(config: SuiteRunConfig): Promise<number> {
  let expectations: Expectations;
  let reporters: ChosenOutputs<SuiteReport, JudgedResult>;
  try {
    expectations = loadExpectations(config.expectations ?? ("target" in config.server ? targetExpectations(config.server.target) : null));
    reporters = SUITE_REPORTERS.choose({ out: config.reporter }, { verbose: config.verbose, color: process.env.NO_COLOR === undefined, expectations });
  } catch (err) {
    return reportUserError(err, "smtpchaos suite");
  }
  let programs: Program[];
  try {
    programs = loadSuitePrograms(config.suites, config.defines);
  } catch (err) {
    return reportScriptError(err);
  }
  let bound: Bound;
  try {
    bound = await bind(config, programs);
  } catch (err) {
    return reportUserError(err, "smtpchaos suite");
  }
  return runBound(config, { expectations, reporters, programs }, bound);
}

/** Starts the target, or checks that the given server answers and starts its sink. */
async function bind(config: SuiteRunConfig, programs: Program[]): Promise<Bound> {
  const { server } = config;
  const mayFire = declaredFaultPoints(programs);
  if ("target" in server) {
    const { target, tls, starttls, postconf } = server;
    const binding = await bindServer({ server: { target, tls, starttls }, defines: config.defines }, { ...(Object.keys(postconf).length > 0 ? { main: postconf } : {}), mayFire });
    return { binding, target: binding.target, stop: () => binding.stop() };
  }
  const { host, port } = server.address;
  const why = await unreachableReason(server.address, config.timeoutMs);
  if (why !== null) throw new UnreachableError(`server unreachable: ${host.includes(":") ? `[${host}]` : host}:${port}: ${why}`);
  // the sink is up before the first test-case: the server may relay at once
  const sinkPort = server.deliveries?.sinkPort ?? null;
  const sink = sinkPort === null ? null : await startSink(sinkPort);
  const binding = await bindServer({ server: server.address, defines: config.defines });
  return {
    binding,
    target: deliveriesTarget(server, sink, config.timeoutMs),
    stop: async () => {
      await sink?.stop();
    },
  };
}

/** A given server's deliveries as 'expect delivered' reads them: its Maildirs and the sink's. */
function deliveriesTarget(server: GivenServer, sink: RecordingSink | null, timeoutMs: number): ScriptTarget | undefined {
  const d = server.deliveries;
  if (d === null) return undefined;
  const sinkMaildir = sink?.maildir ?? null;
  const maildirs = sinkMaildir === null ? d.maildirs : [...d.maildirs, sinkMaildir];
  return hostScriptTarget(server.address, maildirs, { settleMs: d.settleMs, maxMs: Math.max(timeoutMs, d.settleMs) });
}

/** Runs and reports; a first interrupt lets the test-cases in flight finish, a second drops them. */
async function runBound(config: SuiteRunConfig, judging: Judging, bound: Bound): Promise<number> {
  const { binding } = bound;
  const started = Date.now();
  const judged: JudgedResult[] = [];
  const interrupts = onTestInterrupt("smtpchaos suite");
  try {
    try {
      // a line for people: on stderr when a report has stdout
      (judging.reporters.stdoutTaken ? console.error : console.log)(`suites ${config.suites.map((s) => s.name).join(", ")} against ${binding.label}${judging.expectations.source !== null ? `, expectations ${relative(process.cwd(), judging.expectations.source)}` : ""}\n`);
      await runSuites({
        programs: judging.programs,
        server: binding.server,
        label: binding.label,
        defines: binding.defines,
        ...(bound.target !== undefined ? { target: bound.target } : {}),
        expectations: judging.expectations,
        timeoutMs: config.timeoutMs,
        signal: interrupts.signal,
        cutSignal: interrupts.cut,
        onResult: (j) => {
          judged.push(j);
          judging.reporters.progress(j);
        },
      });
    } catch (err) {
      console.error(`smtpchaos suite: ${(err as Error).message}`);
      return EXIT.usage;
    } finally {
      await bound.stop();
    }
    const code = await report(config, judging, judged, binding.label, started);
    return interrupts.signal.aborted ? EXIT.interrupted : code;
  } finally {
    interrupts.off();
  }
}

/** Writes every report; the exit code the judged results call for. */
async function report(config: SuiteRunConfig, judging: Judging, judged: JudgedResult[], target: string, started: number): Promise<number> {
  const results = asReported(judged);
  const runResult = { target, files: [...new Set(results.map((r) => r.file))], startedAt: new Date(started).toISOString(), durationMs: Date.now() - started, results };
  const written = await judging.reporters.finish({ run: runResult, judged, suites: config.suites.map((s) => s.name) }, "smtpchaos suite");
  const active = judged.map((j) => j.result).filter((r) => r.status !== "skipped");
  if (active.length > 0 && active.every((r) => r.failure?.type === "connect")) {
    console.error(`smtpchaos suite: server unreachable: ${visible(active[0]?.failure?.message ?? "")}`);
    return EXIT.usage;
  }
  if (unexpectedResults(judged) > 0) return EXIT.failures;
  return written ? EXIT.ok : EXIT.usage;
}

/** The recording sink of `--sink PORT`, its Maildir in a temporary directory removed at stop. */
async function startSink(port: number): Promise<RecordingSink> {
  const sink = RecordingSink.withTemporaryMaildir({ port });
  try {
    await sink.start();
  } catch (err) {
    await sink.stop();
    throw new UsageError(`--sink ${port}: ${(err as Error).message}`);
  }
  return sink;
}
