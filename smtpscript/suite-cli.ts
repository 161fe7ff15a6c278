// `smtpchaos suite run [--target T | --host H --port P] [NAMES...]` and `smtpchaos suite list`.
import { targetNames } from "../targets/registry.js";
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { RecordingSink } from "../targets/sink/recording-sink.js";
import { EXIT } from "../common/exit-codes.js";
import { ScriptError } from "./errors.js";
import { visible } from "../common/visible.js";
import type { ChosenOutputs } from "../common/output.js";
import { declaredFaultPoints } from "./fault-points.js";
import { bindServer, hostScriptTarget, unreachableReason } from "./bind-target.js";
import { SUITE_REPORTERS } from "./suite-reporters/index.js";
import type { SuiteReport } from "./suite-reporters/index.js";
import { asReported, listSuites, loadExpectations, unexpectedResults } from "./suites.js";
import type { Expectations, JudgedResult } from "./suites.js";
import { loadSuitePrograms, runSuites, targetExpectations } from "./suite-run.js";
import type { ServerAddress } from "./runner.js";
import { parseAssignments } from "../common/assignments.js";
import { assertDirectory, parseCli, parseDurationFlag, parsePort } from "../common/args.js";
import { reportUserError, UsageError } from "../common/errors.js";
import { chooseServer } from "../targets/server-choice.js";

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
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseCli({
      args: rest,
      allowPositionals: true,
      options: {
        target: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        expectations: { type: "string" },
        maildir: { type: "string", multiple: true },
        sink: { type: "string" },
        settle: { type: "string" },
        tls: { type: "boolean" },
        "tls-port": { type: "string" },
        starttls: { type: "boolean" },
        "allow-remote": { type: "boolean" },
        postconf: { type: "string", multiple: true },
        timeout: { type: "string" },
        define: { type: "string", short: "D", multiple: true },
        reporter: { type: "string", multiple: true },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    console.error(`smtpchaos suite: ${(err as Error).message}`);
    return EXIT.usage;
  }
  if (values.help === true) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const usage = (msg: string): number => {
    console.error(`smtpchaos suite: ${msg}`);
    return EXIT.usage;
  };
  let defines: Record<string, string>;
  let main: Record<string, string>;
  let port: number;
  let server: ServerAddress;
  let timeoutMs: number;
  let settleMs: number;
  const maildirs = [...(values.maildir ?? [])];
  let sinkPort: number | null = null;
  try {
    const chosen = chooseServer(values, { what: "connect to" });
    // with --target, the address is the target's once it runs (bindServer)
    port = "port" in chosen ? chosen.port : 25;
    defines = parseAssignments(values.define, "-D");
    // A recipient in the server's own domain: the unknown-user checks must not meet a relay refusal.
    if (defines.rcpt !== undefined && defines.domain === undefined && defines.rcpt.includes("@")) defines.domain = defines.rcpt.slice(defines.rcpt.lastIndexOf("@") + 1);
    server = serverAddress(values, port);
    if (maildirs.length > 0 && values.target !== undefined) throw new UsageError("--maildir is for --host: a --target reads its own mailboxes");
    if (values.sink !== undefined && values.target !== undefined) throw new UsageError("--sink is for --host: a --target's file says delivery: sink");
    if (values.sink !== undefined) sinkPort = parsePort(values.sink, "--sink");
    if (values.settle !== undefined && maildirs.length === 0 && sinkPort === null) throw new UsageError("--settle goes with --maildir or --sink");
    for (const d of maildirs) assertDirectory(d, "--maildir");
    settleMs = values.settle === undefined ? 5_000 : parseDurationFlag(values.settle, "--settle");
    main = parseAssignments(values.postconf, "--postconf");
    timeoutMs = values.timeout === undefined ? 10_000 : parseDurationFlag(values.timeout, "--timeout");
    // A file named explicitly must exist; only a target's own expectations are optional.
    if (values.expectations !== undefined && !existsSync(values.expectations)) throw new UsageError(`--expectations ${values.expectations}: no such file`);
  } catch (err) {
    return usage((err as Error).message);
  }
  const all = listSuites();
  const unknown = positionals.filter((p) => !all.some((s) => s.name === p));
  if (unknown.length > 0) return usage(`unknown suite(s) ${unknown.join(", ")} (known: ${all.map((s) => s.name).join(", ")})`);
  const suites = positionals.length === 0 ? all : all.filter((s) => positionals.includes(s.name));

  let expectations: Expectations;
  let reporters: ChosenOutputs<SuiteReport, JudgedResult>;
  try {
    expectations = loadExpectations(values.expectations ?? (values.target !== undefined ? targetExpectations(values.target) : null));
    reporters = SUITE_REPORTERS.choose({ out: values.reporter }, { verbose: values.verbose === true, color: process.env.NO_COLOR === undefined, expectations });
  } catch (err) {
    return reportUserError(err, "smtpchaos suite");
  }

  let programs;
  try {
    programs = loadSuitePrograms(suites, defines);
  } catch (err) {
    if (err instanceof ScriptError) {
      console.error(err.format());
      return EXIT.usage;
    }
    throw err;
  }

  if (Object.keys(main).length > 0 && values.target !== "postfix") return usage("--postconf applies to --target postfix only");
  if (values.target === undefined) {
    const host = server.host;
    const why = await unreachableReason(server, timeoutMs);
    if (why !== null) return usage(`server unreachable: ${host.includes(":") ? `[${host}]` : host}:${server.port}: ${why}`);
  }
  // the sink is up before the first test-case: the server may relay at once
  let sink: RecordingSink | null = null;
  try {
    sink = sinkPort === null ? null : await startSink(sinkPort);
  } catch (err) {
    return usage((err as Error).message);
  }
  const sinkMaildir = sink?.maildir ?? null;
  if (sinkMaildir !== null) maildirs.push(sinkMaildir);
  let binding;
  try {
    binding = await bindServer({ target: values.target ?? null, server, defines }, { ...(Object.keys(main).length > 0 ? { main } : {}), mayFire: declaredFaultPoints(programs) });
  } catch (err) {
    await sink?.stop();
    return reportUserError(err, "smtpchaos suite");
  }
  const scriptTarget = binding.target ?? (maildirs.length > 0 ? hostScriptTarget(binding.server, maildirs, { settleMs, maxMs: Math.max(timeoutMs, settleMs) }) : undefined);
  const started = Date.now();
  const judged: JudgedResult[] = [];
  const finish = async (): Promise<number> => {
    const results = asReported(judged);
    const run = { target: binding.label, files: [...new Set(results.map((r) => r.file))], startedAt: new Date(started).toISOString(), durationMs: Date.now() - started, results };
    const written = await reporters.finish({ run, judged, suites: suites.map((s) => s.name) }, "smtpchaos suite");
    if (unexpectedResults(judged) > 0) return EXIT.failures;
    return written ? EXIT.ok : EXIT.usage;
  };
  const onSigint = (): void => {
    console.error("\nsmtpchaos suite: interrupted; reporting what completed");
    void finish()
      .then(() => binding.stop())
      .then(() => sink?.stop())
      .finally(() => process.exit(EXIT.interrupted));
  };
  process.once("SIGINT", onSigint);
  try {
    // a line for people: on stderr when a report has stdout
    (reporters.stdoutTaken ? console.error : console.log)(`suites ${suites.map((s) => s.name).join(", ")} against ${binding.label}${expectations.source !== null ? `, expectations ${relative(process.cwd(), expectations.source)}` : ""}\n`);
    await runSuites({
      programs,
      server: binding.server,
      label: binding.label,
      defines: binding.defines,
      ...(scriptTarget !== undefined ? { target: scriptTarget } : {}),
      expectations,
      timeoutMs,
      onResult: (j) => {
        judged.push(j);
        reporters.progress(j);
      },
    });
  } catch (err) {
    console.error(`smtpchaos suite: ${(err as Error).message}`);
    await binding.stop();
    await sink?.stop();
    return EXIT.usage;
  } finally {
    process.off("SIGINT", onSigint);
  }
  await binding.stop();
  await sink?.stop();
  const code = await finish();
  const active = judged.map((j) => j.result).filter((r) => r.status !== "skipped");
  if (active.length > 0 && active.every((r) => r.failure?.type === "connect")) {
    console.error(`smtpchaos suite: server unreachable: ${visible(active[0]?.failure?.message ?? "")}`);
    return EXIT.usage;
  }
  return code;
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

/** --tls/--tls-port/--starttls, as smtpscript's own CLI builds them; --tls-port is --host's SMTPS port. */
function serverAddress(values: { host?: string; target?: string; tls?: boolean; "tls-port"?: string; starttls?: boolean }, port: number): ServerAddress {
  const tlsPort = values["tls-port"] === undefined ? undefined : parsePort(values["tls-port"], "--tls-port");
  if (tlsPort !== undefined && values.target !== undefined) throw new UsageError("--tls-port is for --host: a --target uses its own TLS port with --tls");
  const tls = values.tls === true || tlsPort !== undefined;
  if (tls && values.starttls === true) throw new UsageError("--tls and --starttls are exclusive");
  return { host: values.host ?? "127.0.0.1", port: tls ? (tlsPort ?? port) : port, tls, starttls: values.starttls === true };
}
