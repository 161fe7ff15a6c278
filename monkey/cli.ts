// `smtpchaos monkey run|serve|points|plan|stats|set|clear|fail ...`
import { targetNames } from "../targets/registry.js";
import { RecordingSink } from "../targets/sink/recording-sink.js";
import type { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { EXIT } from "../common/exit-codes.js";
import { onInterrupt } from "../common/interrupt.js";
import { formatDuration } from "../common/duration.js";
import { monkeyProviders } from "./providers.js";
import type { Traffic } from "../smtp/index.js";
import { assertDirectory, parseCli, parseCount, parseDurationFlag, parsePort } from "../common/args.js";
import { reportUserError, UsageError } from "../common/errors.js";
import { chooseServer } from "../targets/server-choice.js";
import { describeSpec, fitWindows, planDocFromFlags, readPlanDocument, validatePlan } from "./plan.js";
import type { FaultPlan } from "./plan.js";
import { parseSeed, randomSeed } from "../common/rng.js";
import { runMonkey } from "./run.js";
import type { LiveCounts, MonkeyReport, MonkeyTarget } from "./run.js";
import { ExternalTarget } from "../targets/external/target.js";
import { loopbackUrl } from "../common/loopback.js";
import { MONKEY_OUTPUTS } from "./outputs/index.js";
import { monkeyTarget } from "./targets.js";
import { Injector } from "./injector.js";
import { PlanController } from "./controller.js";
import { ControlServer } from "./control-server.js";
import { ControlClient } from "./control-client.js";
import { LayerSet } from "./layers/set.js";
import { describePoints, kindOf, layerUnits, pointPatterns } from "./layers/registry.js";
import { SmtpConnectError } from "../smtp/index.js";
import type { ExternalCommands } from "../targets/external/commands.js";
import { sweepMain } from "./sweep/cli.js";

const USAGE = `usage: smtpchaos monkey <command> [options]

commands:
  run    --target NAME --duration D [--plan FILE] [--fault SPEC]...
         start the target, inject the plan's faults while flooding it with mail, then stop
         the faults, drain the queue, restart the target once and reconcile every message
  sweep  --target NAME [--points GLOBS] [--budget D]...   (smtpchaos monkey sweep --help)
         every failure the toolkit can inject into the target, each once, with a coverage matrix
  serve  --target NAME [--proxy-port P] [--plan FILE] [--fault SPEC]...
         start the target with its fault points and a control API; runs until Ctrl-C. Every
         layer of 'run' is there: a fault proxy in front of it (net.*), a next hop it relays
         to (nexthop.*, when it can relay), pause/kill of its processes
  serve  --host H --port P [--proxy-port P] [--plan FILE] [--fault net.SPEC]...
         a server you run: a fault proxy in front of it (net.* points) and a control API
  points | plan | stats | clear             --api URL   ask a running 'monkey serve'; URL is
                                                        the one it printed, with its ?token=
                                                        (or set SMTPCHAOS_MONKEY_TOKEN)
  set FILE                                  --api URL   replace its plan (JSON or YAML)
  fail POINT [errno E] [site H] [once|always|times N]   --api URL   the smtpscript statements,
  delay POINT DURATION [site H] [once|always|times N]   --api URL   by hand

run/serve options:
  --target NAME|FILE     ${targetNames().join(", ")} (embedded by default), or a target file
                         (NAME.target.yaml by path or on SMTPCHAOS_TARGET_PATH)
  --host H --port P      run: a server you run yourself instead; only network faults (net.*)
                         apply, loopback only unless --allow-remote
  --rcpt ADDR            with --host: recipients to send to (repeatable)
  --maildir DIR          with --host: Maildirs it delivers to, for the ledger (repeatable;
                         each must exist)
  --sink PORT            with --host: a server that relays (a relay, a filter, a submission
                         server): the toolkit runs its recording SMTP sink on 127.0.0.1:PORT;
                         configure the server to relay there, and what arrives counts as delivered
  --queue-size-cmd CMD   with --host: a shell command printing how many messages the server
                         has queued (e.g. "exim -bpc"); without it the queue is "not observable"
                         and the ledger waits for the Maildirs to settle instead
  --flush-cmd CMD        with --host: a shell command that makes it retry its queue now
                         (e.g. "exim -qff", "postqueue -f"), run before each reconcile
  --restart-cmd CMD      with --host: a shell command that restarts it; the run then waits for
                         its banner and reconciles again (without it the restart is skipped)
  --settle D             with --host and no --queue-size-cmd: deliveries are over once the
                         Maildirs have not changed for D (default 5s; shorter than --drain-timeout);
                         make it longer than the server's longest pause between deliveries
  --proxy-port P         serve: port of the fault proxy on 127.0.0.1 (default: any)
  --allow-remote         permit a non-loopback --host (and --api URL)
  --plan FILE            fault plan (JSON or YAML; see monkey/README.md)
  --fault SPEC           a fault point with settings, repeatable; wins over --plan per point,
                         e.g. "queue.write:probability=0.05,errno=ENOSPC,after=data"
  --may-fire POINTS      points a plan set later through the control API may fire, comma-separated
                         (globs: sys.*, sys.*.fsync, *): libfiu and the syscall supervisor are
                         attached to the MTA only for points the plan or this list names
  --seed S               replay a run (default: the plan's seed, else random; printed always)
  --clean D --faults D --heal D   run windows: clean first, then faults, then healed
                         (they must fit --duration, faults > 0, else exit 2)
  --duration D           how long the flood runs (run; e.g. 5m)
  --concurrency N        concurrent client sessions (default 4)
  --max-sessions N       also stop after N sessions
  --mix FILE             run: the flood's sessions from a storm mix (YAML/JSON; every kind: TLS,
                         IPv6, pipelining, large, many-rcpts, aborts...), drawn from the run's
                         seed; default: one transaction per session
  --timeout D            per-reply client timeout; a silent server past it is a hang (default 30s)
  --drain-timeout D      one budget for everything after the flood (default 60s): the drain
                         after the faults, the restart and the drain after it share it, so a
                         drain that takes it all leaves the second a single reading
  --no-restart           skip the restart-and-reconcile step
  --keep                 keep the target's instance directory after the run (it is made in
                         $TMPDIR/smtpchaos-NAME-XXXXXX and removed at the end otherwise); the
                         report's notes say where
  --stop-on-crash        on a crash of the target: no drain, restart or reconcile, and its
                         instance directory (config, spool, logs, mailboxes) is kept; the report
                         names the fatal line, the role and the faults of the 10 s before
  --out KIND[=FILE]      run: an output, repeatable (--out json=m.json --out junit=m.xml);
                         without =FILE, or with FILE "-", it goes to stdout (the report's
                         tables then go to stderr); kinds:
${MONKEY_OUTPUTS.help("                           ")}
  --json FILE            the same as --out json=FILE
  --control-port P       port of the control API on 127.0.0.1 (default: any free port);
                         every request needs the random token printed with its URL

exit codes: 0 no findings and every planned fault reached the target, 1 findings (ungraceful
replies, 5xx under a transient fault, hangs, crash, lost/duplicated mail), 2 usage error, target
not startable or not answering SMTP, control port in use, or a report file that could not be
written, 3 inconclusive (no findings, but a planned fault point never fired: the report names it
and why), 130 interrupted (SIGINT or SIGTERM, in any phase: no further wait, drain or restart; the
ledger is read as it stands and the partial report is still printed and written; a second
signal writes what the flood saw, without the ledger, and quits within 2 s)`;

const OPTIONS = {
  target: { type: "string" },
  plan: { type: "string" },
  fault: { type: "string", multiple: true },
  seed: { type: "string" },
  clean: { type: "string" },
  faults: { type: "string" },
  heal: { type: "string" },
  duration: { type: "string" },
  concurrency: { type: "string", default: "4" },
  "max-sessions": { type: "string" },
  timeout: { type: "string", default: "30s" },
  "drain-timeout": { type: "string", default: "60s" },
  "no-restart": { type: "boolean" },
  "stop-on-crash": { type: "boolean" },
  keep: { type: "boolean" },
  "may-fire": { type: "string" },
  mix: { type: "string" },
  out: { type: "string", multiple: true },
  json: { type: "string" },
  "control-port": { type: "string" },
  api: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  rcpt: { type: "string", multiple: true },
  maildir: { type: "string", multiple: true },
  "queue-size-cmd": { type: "string" },
  "flush-cmd": { type: "string" },
  "restart-cmd": { type: "string" },
  settle: { type: "string" },
  "proxy-port": { type: "string" },
  sink: { type: "string" },
  "allow-remote": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

export async function main(argv: string[]): Promise<number> {
  // the sweep has flags of its own
  if (argv[0] === "sweep") return sweepMain(argv.slice(1));
  let values: Values, positionals: string[];
  try {
    ({ values, positionals } = parseCli({ args: argv, options: OPTIONS, allowPositionals: true }));
  } catch (err) {
    console.error(`smtpchaos monkey: ${(err as Error).message}`);
    return EXIT.usage;
  }
  const [cmd, ...rest] = positionals;
  if (values.help === true || cmd === undefined) {
    console.log(USAGE);
    return cmd === undefined && values.help !== true ? EXIT.usage : EXIT.ok;
  }
  try {
    switch (cmd) {
      case "run":
        return await run(values, argv);
      case "serve":
        return await serve(values);
      case "points":
      case "plan":
      case "stats":
      case "clear":
      case "set":
      case "fail":
      case "delay":
        return await remote(cmd, rest, values);
      default:
        throw new UsageError(`unknown command '${cmd}'`);
    }
  } catch (err) {
    return reportUserError(err, `smtpchaos monkey ${cmd}`);
  }
}

function duration(v: string | undefined, flag: string): number {
  if (v === undefined) throw new UsageError(`${flag} is required (e.g. 30s, 5m)`);
  return parseDurationFlag(v, flag);
}

function positiveInt(v: string | undefined, flag: string): number {
  return parseCount(v ?? "", flag);
}

/** Starts the control API; a taken --control-port is the user's to change, not a crash. */
async function startControl(control: ControlServer, port: number | undefined): Promise<void> {
  try {
    await control.start();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    throw new UsageError(`--control-port ${port ?? 0}: 127.0.0.1:${port ?? 0} is already in use`);
  }
}

/** The plan from --plan and --fault flags (flags win per point), its document, and the seed to use. */
function planFrom(values: Values): { plan: FaultPlan; doc: Record<string, unknown>; seed: number } {
  const base = values.plan === undefined ? {} : readPlanDocument(values.plan);
  const doc = planDocFromFlags(
    {
      faults: values.fault ?? [],
      ...(values.clean !== undefined ? { clean: values.clean } : {}),
      ...(values.faults !== undefined ? { faultsWindow: values.faults } : {}),
      ...(values.heal !== undefined ? { heal: values.heal } : {}),
    },
    base,
  );
  const plan = validatePlan(doc, values.plan ?? "--fault");
  const seed = values.seed !== undefined ? parseSeed(values.seed) : (plan.seed ?? randomSeed());
  return { plan, doc, seed };
}

/** Flags that only mean something for a server given by --host. */
const HOST_ONLY = ["rcpt", "maildir", "sink", "queue-size-cmd", "flush-cmd", "restart-cmd", "settle", "proxy-port"] as const;

type External = (extra: { nextHop?: unknown }) => MonkeyTarget;

/**
 * --target NAME (the embedded target by default), checked before anything starts; or
 * --host/--port: the user's own server, faulted from the network side only.
 */
function chooseTarget(values: Values, forServe = false): { target: string } | { name: string; external: External } {
  const chosen = chooseServer(values, { otherwise: { target: "embedded" } });
  if ("target" in chosen) {
    // serve puts its fault proxy in front of any target
    const stray = HOST_ONLY.filter((f) => values[f] !== undefined && !(forServe && f === "proxy-port"));
    if (stray.length > 0) throw new UsageError(`${stray.map((f) => `--${f}`).join(", ")} need${stray.length === 1 ? "s" : ""} --host/--port (a server you run)`);
    return chosen;
  }
  const { host, port } = chosen;
  const rcpts = values.rcpt ?? [];
  if (rcpts.length === 0 && !forServe) throw new UsageError("--host needs at least one --rcpt ADDR the server accepts");
  const maildirs = values.maildir ?? [];
  // A mistyped Maildir would make every accepted message "lost": refuse it before the flood.
  for (const dir of maildirs) assertDirectory(dir, "--maildir");
  const commands: ExternalCommands = {
    ...(values["queue-size-cmd"] !== undefined ? { queueSize: nonEmpty(values["queue-size-cmd"], "--queue-size-cmd") } : {}),
    ...(values["flush-cmd"] !== undefined ? { flush: nonEmpty(values["flush-cmd"], "--flush-cmd") } : {}),
    ...(values["restart-cmd"] !== undefined ? { restart: nonEmpty(values["restart-cmd"], "--restart-cmd") } : {}),
  };
  const settleMs = values.settle === undefined ? 5_000 : parseDurationFlag(values.settle, "--settle");
  // The startup probe waits at most --timeout (and no more than 10 s) for the banner.
  const probeTimeoutMs = Math.min(duration(values.timeout, "--timeout"), 10_000);
  const sinkPort = values.sink === undefined ? null : parsePort(values.sink, "--sink");
  const sink = sinkPort === null ? {} : { sink: RecordingSink.withTemporaryMaildir({ port: sinkPort }) };
  const target = new ExternalTarget({ host, port }, rcpts, maildirs, { probeTimeoutMs, commands, settleMs, ...sink });
  return {
    name: target.name,
    external: (extra) => {
      if (extra.nextHop !== undefined) throw new UsageError("nexthop.* points need a target the toolkit configures (--target NAME): only those relay to the flaky next hop; a server you run can relay to --sink PORT instead");
      return { target, surface: null, readsMailboxes: target.readsMailboxes, unmanaged: target };
    },
  };
}

/** A storm mix as the flood's traffic, from the CLI layer (the monkey does not import storm). */
async function mixTraffic(file: string, seed: number): Promise<Traffic> {
  const provide = monkeyProviders().traffic;
  if (provide === undefined) throw new UsageError("--mix needs storm's mixes: run it through the smtpchaos command");
  return provide(file, seed);
}

function nonEmpty(v: string, flag: string): string {
  if (v.trim() === "") throw new UsageError(`${flag} needs a command`);
  return v;
}

/** The command line that replays a run: the same arguments with its seed pinned. */
export function replayCommand(argv: readonly string[], seed: unknown): string {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--seed") i++;
    else if (!a.startsWith("--seed=")) args.push(a);
  }
  const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  return ["smtpchaos", "monkey", ...args, "--seed", String(seed)].map(quote).join(" ");
}

async function run(values: Values, argv: readonly string[]): Promise<number> {
  const chosen = chooseTarget(values);
  const external = "external" in chosen ? chosen.external : null;
  const name = "external" in chosen ? chosen.name : chosen.target;
  const controlPort = values["control-port"] === undefined ? undefined : parsePort(values["control-port"], "--control-port");
  const outputs = MONKEY_OUTPUTS.choose({ out: values.out, aliases: { json: values.json } });
  const durationMs = duration(values.duration, "--duration");
  const concurrency = positiveInt(values.concurrency, "--concurrency");
  const maxSessions = values["max-sessions"] === undefined ? undefined : positiveInt(values["max-sessions"], "--max-sessions");
  const timeoutMs = duration(values.timeout, "--timeout");
  const drainTimeoutMs = duration(values["drain-timeout"], "--drain-timeout");
  if (external !== null && values["queue-size-cmd"] === undefined && values.settle !== undefined && parseDurationFlag(values.settle, "--settle") >= drainTimeoutMs) {
    throw new UsageError(`--settle ${values.settle} must be shorter than --drain-timeout ${values["drain-timeout"] ?? ""}: the wait for the Maildirs to settle is bounded by it`);
  }
  const { plan, seed } = planFrom(values);
  // the windows must fit the run before anything starts (runMonkey fits them again)
  fitWindows(plan, durationMs);
  const traffic = values.mix === undefined ? undefined : await mixTraffic(values.mix, seed);
  if (external !== null) refuseInside(plan);
  const interrupts = onInterrupt({
    tool: "smtpchaos monkey",
    first: "stopping the flood and any drain, reading the ledger as it stands, then reporting",
    cut: "writing what the flood saw (no ledger) and quitting; the target is stopped on the way out",
    exitWithinMs: 2_000,
  });
  // the report of a second interrupt, written at once: the run's own report never comes then
  let cutReport: Promise<boolean> | null = null;
  const tty = process.stderr.isTTY === true;
  const mayFire = mayFireOf(values);
  console.error(`monkey: ${name}, ${concurrency} sessions for ${formatDuration(durationMs)}, seed ${seed}`);
  for (const s of plan.points) console.error(`  fault ${describeSpec(s)}`);
  let control: ControlServer | null = null;
  let live: LiveCounts | null = null;
  let report: MonkeyReport;
  try {
    report = await runMonkey({
      createTarget: external ?? ((extra) => monkeyTarget(name, extra)),
      plan,
      seed,
      durationMs,
      concurrency,
      timeoutMs,
      drainTimeoutMs,
      // a server we do not own is restarted only by --restart-cmd (runMonkey notes the skip)
      restart: values["no-restart"] !== true,
      stopOnCrash: values["stop-on-crash"] === true,
      allowRemote: values["allow-remote"] === true,
      keep: values.keep === true,
      mayFire,
      signal: interrupts.signal,
      cutSignal: interrupts.cut,
      onCut: (partial) => {
        partial.replay = replayCommand(argv, seed);
        cutReport = outputs.finish(partial, "smtpchaos monkey run");
      },
      ...(maxSessions !== undefined ? { maxSessions } : {}),
      ...(traffic !== undefined ? { traffic } : {}),
      onStage: (t) => process.stderr.write(`${tty ? "\r\x1b[K" : ""}monkey: ${t}\n`),
      onTick: (l) => {
        live = l;
        const o = l.outcomes;
        const line = `${(l.elapsedMs / 1000).toFixed(0).padStart(4)}s [${l.window}] sessions ${l.sessions}  ok ${o.ok}  4xx ${o.tempfail}  5xx ${o.permfail}  ungraceful ${o.ungraceful}  hang ${o.hang}  accepted ${l.accepted}  faults fired ${l.fired}  findings ${l.findings}  rss ${l.rssMiB} MiB`;
        if (tty) process.stderr.write(`\r${line}\x1b[K`);
        else if (Math.round(l.elapsedMs / 1000) % 5 === 0) process.stderr.write(line + "\n");
      },
      onStarted: async ({ injector, surface, target, layers, assertFaultsOpen }) => {
        const controller = new PlanController({ injector, surface, layers, target: target.name, guard: assertFaultsOpen });
        control = new ControlServer({ controller, injector, target, live: () => live, ...(controlPort !== undefined ? { port: controlPort } : {}) });
        await startControl(control, controlPort);
        process.stderr.write(`monkey: target ${target.endpoint.host}:${target.endpoint.port}, control API ${control.url}\n`);
      },
    });
  } catch (err) {
    if (err instanceof SmtpConnectError) {
      console.error(`smtpchaos monkey run: ${err.message}`);
      return EXIT.usage;
    }
    throw err;
  } finally {
    interrupts.off();
    await (control as ControlServer | null)?.stop();
  }
  if (tty) process.stderr.write("\n");
  if (cutReport !== null) {
    await cutReport;
    return EXIT.interrupted;
  }
  report.replay = replayCommand(argv, seed);
  const written = await outputs.finish(report, "smtpchaos monkey run");
  if (report.interrupted) return EXIT.interrupted;
  if (report.findingCount > 0) return EXIT.failures;
  if (!written) return EXIT.usage;
  return report.verdict === "inconclusive" ? EXIT.inconclusive : EXIT.ok;
}

async function serve(values: Values): Promise<number> {
  const controlPort = values["control-port"] === undefined ? undefined : parsePort(values["control-port"], "--control-port");
  const proxyPort = values["proxy-port"] === undefined ? undefined : parsePort(values["proxy-port"], "--proxy-port");
  const { plan, doc, seed } = planFrom(values);
  const chosen = chooseTarget(values, true);
  const external = "external" in chosen ? chosen.external : null;
  if (external !== null) refuseInside(plan);
  const name = "external" in chosen ? null : chosen.target;
  const injector = new Injector({ plan: validatePlan({ points: {} }), seed });
  // Every layer `monkey run` has, ready for any plan the control API sets later: the proxy in
  // front (net.*), the next hop the target relays to (nexthop.*), pause/kill of its processes.
  // A server the toolkit does not run gets those that reach it from outside only.
  const layers = LayerSet.attach(injector, plan, {
    serving: true,
    unmanaged: external !== null,
    stage: (t) => process.stderr.write(`monkey: ${t}\n`),
    ports: proxyPort !== undefined ? { net: proxyPort } : {},
  });
  // serving ends with the first signal (exit 0: it is how serving ends); a second quits at once
  const interrupts = onInterrupt({ tool: "smtpchaos monkey serve", first: "stopping the target and the control API" });
  let mt: MonkeyTarget | null = null;
  try {
    const mayFire = [...plan.points.map((p) => p.name), ...mayFireOf(values)];
    mt = await createServed(layers, external ?? ((extra) => monkeyTarget(name as string, { ...extra, fiuSeed: seed, mayFire })));
    layers.useSurface(mt.surface);
    const target = mt.target;
    await target.start();
    let endpoint: { host: string; port: number };
    try {
      endpoint = await layers.start({ target, surface: mt.surface, endpoint: { host: target.endpoint.host, port: target.endpoint.port } });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" || proxyPort === undefined) throw err;
      throw new UsageError(`--proxy-port ${proxyPort}: 127.0.0.1:${proxyPort} is already in use`);
    }
    const controller = new PlanController({ injector, surface: mt.surface, layers, target: target.name });
    const control = new ControlServer({ controller, injector, target: { name: target.name, endpoint }, ...(controlPort !== undefined ? { port: controlPort } : {}) });
    try {
      await startControl(control, controlPort);
      if (plan.points.length > 0) await controller.set(doc);
      if (external !== null) console.log(`monkey serving a fault proxy on ${endpoint.host}:${endpoint.port} in front of ${target.name} (only net.* faults: the toolkit does not run this server)`);
      else {
        console.log(`monkey serving ${target.name} on ${target.endpoint.host}:${target.endpoint.port}, mailboxes ${target.mailboxes.join(" ")}`);
        for (const where of layers.describe()) console.log(`  ${where}`);
      }
      return await serveUntilSignal(control.url, seed, controller.points, endpoint, interrupts.signal);
    } finally {
      await control.stop();
    }
  } finally {
    await layers.stopBeforeTarget();
    await mt?.surface?.clear();
    await mt?.close?.();
    await mt?.target.stop();
    await layers.stopAfterTarget();
    interrupts.off();
  }
}

/**
 * The served target, created with what its layers need (a relay to the next hop); a target that
 * cannot take that (a target file with no relay section) is served without those layers.
 */
/** --may-fire: points declared up front for plans set later (their mechanisms are attached at start). */
function mayFireOf(values: Values): string[] {
  const points = (values["may-fire"] ?? "").split(",").map((p) => p.trim()).filter((p) => p !== "");
  const bad = points.filter((p) => p !== "*" && !/^sys\.\*(\.[a-z]+)?$/.test(p) && kindOf(p) === null);
  if (bad.length > 0) throw new UsageError(`--may-fire: unknown fault point ${bad.join(", ")} (expected points such as ${pointPatterns().slice(0, 6).join(", ")}, or sys.*, *)`);
  return points;
}

async function createServed(layers: LayerSet, create: (extra: { nextHop?: { host: string; port: number; domain: string } }) => MonkeyTarget): Promise<MonkeyTarget> {
  const needs = await layers.prepare();
  if (needs.nextHop === undefined) return create({});
  try {
    return create({ nextHop: needs.nextHop });
  } catch (err) {
    const dropped = await layers.dropPrepared();
    process.stderr.write(`monkey: serving without the ${dropped.join(", ")} layer: ${(err as Error).message}\n`);
    return create({});
  }
}

/** A server given by --host is faulted from outside only: points of layers that cannot reach it are a usage error. */
function refuseInside(plan: FaultPlan): void {
  const outside = layerUnits().filter((u) => u.unmanaged === true);
  const reaches = (family: string): boolean => outside.some((u) => u.kinds.some((k) => k.family === family));
  const inside = plan.points.filter((s) => !reaches(s.family)).map((s) => s.name);
  if (inside.length === 0) return;
  const families = [...new Set(outside.flatMap((u) => u.kinds.map((k) => `${k.family}.*`)))];
  throw new UsageError(`${inside.join(", ")}: a server given by --host can only be faulted from the network (${families.join(", ")}); use --target for faults inside it`);
}

/** Says where the control API is and how a script reaches it, then serves until Ctrl-C or SIGTERM. */
async function serveUntilSignal(url: string, seed: unknown, points: readonly string[], smtp: { host: string; port: number }, stop: AbortSignal): Promise<number> {
  console.log(`control API: ${url}   (seed ${String(seed)}; points: ${describePoints(points)})`);
  // quoted: a shell would glob the '?' of the token
  console.log(`e.g.  smtpscript --host ${smtp.host} --port ${smtp.port} --monkey '${url}' tests.smtp`);
  if (!stop.aborted) await new Promise((resolve) => stop.addEventListener("abort", resolve, { once: true }));
  return EXIT.ok;
}

async function remote(cmd: string, args: string[], values: Values): Promise<number> {
  if (values.api === undefined) throw new UsageError(`${cmd} needs --api URL (printed by 'smtpchaos monkey serve')`);
  loopbackUrl(values.api, "--api", values["allow-remote"] === true);
  // a plan file that cannot be read is the first thing to say, before anything about the API
  if (cmd === "set" && args[0] === undefined) throw new UsageError("set needs a plan FILE");
  const planText = cmd === "set" ? readPlanText(args[0] as string) : null;
  const client = new ControlClient(values.api);
  let out: unknown;
  switch (cmd) {
    case "points":
      out = await client.points();
      break;
    case "plan":
      out = await client.plan();
      break;
    case "stats":
      out = await client.stats();
      break;
    case "clear":
      out = await client.clearPlan();
      break;
    case "set": {
      out = await client.setPlan(planText as string);
      break;
    }
    default:
      out = await client.statement([cmd, ...args]);
  }
  console.log(JSON.stringify(out, null, 2));
  return EXIT.ok;
}

function readPlanText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`set ${file}: ${e.code === "ENOENT" ? "no such file" : e.code === "EISDIR" ? "is a directory" : e.message}`);
  }
}
