// `smtpchaos storm [--target NAME | --host H --port P] --sessions N --duration D ...`
import { EXIT } from "../common/exit-codes.js";
import { parseSeed, randomSeed } from "../common/rng.js";
import { formatDuration } from "../common/duration.js";
import { parseAssignments } from "../common/assignments.js";
import { parseCli, parseCount, parseDurationFlag, parsePort, parsePositiveNumber } from "../common/args.js";
import { assertWritable, writeReport } from "../common/output-file.js";
import type { ChosenOutputs } from "../common/output.js";
import { reportUserError, UsageError } from "../common/errors.js";
import { visible } from "../common/visible.js";
import { startNamedTarget, targetNames } from "../targets/registry.js";
import type { StartedTarget } from "../targets/registry.js";
import { chooseServer } from "../targets/server-choice.js";
import type { ServerChoice } from "../targets/server-choice.js";
import { DEFAULT_MIX, validateMix } from "./plan.js";
import { KINDS } from "./kinds/index.js";
import { readMixFile } from "./mix-file.js";
import type { Mix } from "./plan.js";
import { isFailureRule, runStorm } from "./scheduler.js";
import type { LoadModel, StormOptions, StormResult } from "./scheduler.js";
import type { SessionTarget } from "./session.js";
import { assertLoopback } from "../common/loopback.js";
import { parseThreshold } from "./thresholds.js";
import type { Threshold } from "./thresholds.js";
import { evaluate } from "./report.js";
import { STORM_OUTPUTS } from "./outputs/index.js";
import type { StormOutcome } from "./outputs/index.js";
import { fdLimit, fdsNeeded } from "./limits.js";
import { parseStages, Profile } from "./profile.js";
import type { Stage } from "./profile.js";
import { findLimit } from "./find-limit.js";
import os from "node:os";
import { parseShard, segmentOptions, shareOf } from "./segment.js";
import type { Segment } from "./segment.js";
import { parseStartAt, waitUntil } from "./start-at.js";
import { parseSources } from "./sources.js";
import { mergeStorms, StormUnreachableError } from "./run.js";
import type { MergedRun } from "./run.js";
import { shrinkFailure, shrunkScript } from "./shrink.js";
import { unreachableText, whereOf } from "./reach.js";

const USAGE = `usage: smtpchaos storm [--target NAME | --host H --port P] [options]
       smtpchaos storm merge PART.json... [--threshold EXPR]... [--out KIND[=FILE]]...

Floods a server with concurrent, varied SMTP sessions for a bounded time, then prints per-phase
latency percentiles, outcomes and reply codes.

load (always bounded by --duration and the optional counts):
  --sessions N           closed loop: N sessions in flight at all times (default 50)
  --rate N[/s]           open loop: N session arrivals per second, whatever the server does;
                         latency counts from each session's scheduled start
  --stages SPEC          ramps, e.g. "10s:100,30s:1000,10s:0": levels are sessions, or
                         arrivals/s with --rate/--open; --duration defaults to their total
  --open                 open loop with --stages
  --max-in-flight N      open loop: drop (and count) arrivals above N in flight (default 10000)
  --duration D           how long to start new sessions (default 10s; e.g. 30s, 2m)
  --max-sessions N       also stop after starting N sessions
  --max-messages N       also stop once N messages were accepted

target:
  --target NAME|FILE     ${targetNames().join(", ")} or a target file (NAME.target.yaml),
                         started and stopped for the run
  --host H --port P      a server you run; loopback only unless --allow-remote
  --tls-port P           its implicit-TLS (SMTPS) port
  --host6 ADDR           its IPv6 address (e.g. ::1) for the --ipv6 share; --port6 P if different
                         (with --target: the target's own, ::1 where the machine has it)
  --allow-remote         permit non-loopback --host/--host6
  --rcpt ADDR            recipient (default: the target's first mailbox, or user@test.example)
  --auth USER:PASS       credentials for the well-behaved client (used if AUTH is offered)

mix (what each session does; drawn from --seed, so a run replays):
  --mix FILE             session mix (YAML/JSON), fields:
                         ${wrap(Object.keys(DEFAULT_MIX).join(", "), 25)}
  --weight KIND=N        a kind's weight (repeatable): without --mix the given kinds are the whole
                         mix, with --mix they override its weights (kinds below)
  --starttls SHARE       share of sessions doing STARTTLS when offered (0..1)
  --implicit-tls SHARE   share of sessions on the implicit-TLS port (0..1)
  --ipv6 SHARE           share of sessions over IPv6 (0..1)
  --hold D               idle time of "hold" sessions (fixed)
  --transactions N[..M]  messages per connection (fixed, or drawn from N..M) for every kind
                         that sends mail but "multi" (default 1); no RSET after an accepted
                         message; "pipelined" sends each with the next envelope. Throughput:
                         --weight pipelined=1 --transactions 200
  --seed N               replay a run (printed in every report)
  --timeout D            per-wait timeout inside a session (default 30s); a session still
                         running this long after the storm stopped starting sessions (plus
                         its hold time) is cut and counted "overdue"

checks and reports:
  --threshold EXPR       e.g. "p99(dot)<500ms", "rate(ungraceful)==0"; repeatable
  --out KIND[=FILE]      an output, repeatable (--out json=r.json --out junit=r.xml); without
                         =FILE, or with FILE "-", it goes to stdout (the summary then goes to
                         stderr); kinds:
${STORM_OUTPUTS.help("                           ")}
  --json FILE            the same as --out json=FILE
  --html FILE            the same as --out html=FILE
  --slow-session D       a session taking longer than D counts as failed (for --shrink-out)
  --shrink-out FILE      shrink the first failed session (ungraceful end, or --slow-session) to
                         the smallest failing dialogue and write it as an smtpscript test-case
  --shrink-time D        time budget for shrinking (default 60s)

find the breaking point (instead of one storm):
  --find-limit           raise the load step by step until the target degrades; report the
                         breaking point, how it shed load (421/451 or resets/timeouts), and
                         how long until a normal session succeeded again
  --limit-start N        first level (default 10; sessions, or arrivals/s with --rate/--open)
  --limit-factor F       level multiplier per step (default 2)
  --limit-max N          last level tried (default 10000)
  --limit-step D         duration of each step (default 10s)
  --limit-errors R       degraded above this failed-session share (default 1%)
  --limit-p99 D          degraded above this session p99 (default 2s)
  --recovery-timeout D   how long to wait for recovery (default 30s)

scale (one run on every core, or on many machines; see deploy/ and README "Storm at scale"):
  --workers N|auto       worker threads sharing the load (default 1; auto = one per core), each
                         with a seed derived from --seed; one progress line, one merged report
  --source A[-B][,C...]  IPv4 loopback source addresses used in turn (e.g. 127.0.0.2-127.0.0.9):
                         more sessions to one server port than one address has ephemeral ports
  --shard I/N            run part I of N of this run (its share of sessions, rate and bounds,
                         its own derived seed); merge the parts' --json with 'storm merge'
  --start-at TIME        start at this instant (ISO 8601 with zone, or Unix seconds): shards on
                         many machines start together; a time already past is refused (exit 2)
  --late-ok              start anyway when --start-at has passed (with a warning naming how late)
  merge FILES...         'smtpchaos storm merge A.json B.json ... [--threshold ...] [--out ...]':
                         one report (and threshold verdict) from shards' --json results

session kinds (weights in --mix or --weight):
${KINDS.map((k) => `  ${k.name.padEnd(21)}  ${wrap(k.summary, 25)}`).join("\n")}

exit codes: 0 done and every threshold passed, 1 a threshold failed (or a session failed and was
shrunk), 2 usage error, unreachable target (nothing connected; the first 10 sessions all refused stop the
run) or a report that could not be written, 130 interrupted (the partial report is still printed
and written to every output; a second interrupt cuts in-flight sessions and stops within 2 s)`;

/** Words of `text` on lines that end by column 96, each starting at column `indent`. */
function wrap(text: string, indent: number): string {
  const lines: string[] = [""];
  for (const word of text.split(" ")) {
    const cur = lines[lines.length - 1] as string;
    if (cur.length + word.length + 1 > 96 - indent && cur !== "") lines.push(word);
    else lines[lines.length - 1] = cur === "" ? word : `${cur} ${word}`;
  }
  return lines.join("\n" + " ".repeat(indent));
}

interface Parsed {
  model: LoadModel;
  concurrency: number;
  rate: number | undefined;
  stages: Stage[] | undefined;
  durationMs: number;
  timeoutMs: number;
  seed: number;
  mix: Mix;
  thresholds: Threshold[];
  slowSessionMs: number | undefined;
}

const MERGE_USAGE = `usage: smtpchaos storm merge PART.json... [--threshold EXPR]... [--out KIND[=FILE]]... [--json F] [--html F] [--apart-ok]

Merges the --json results of a run's parts (storm --shard I/N on many machines) into the report
one run would give: counts add up, latency histograms merge bucket by bucket (not averaged), the
timelines line up by wall-clock second, peak concurrency is read from the merged timeline, and
thresholds are judged on the whole. Parts that did not all run at the same time are refused (each
part's start after the earliest is named); --apart-ok merges them anyway, with a note.

exit codes: 0 every threshold passed, 1 a threshold failed, 2 usage error, unreadable or malformed part,
parts that did not overlap, nothing connected in any part (unreachable), or a report that could
not be written`;

async function mergeMain(argv: string[]): Promise<number> {
  let values;
  let files: string[];
  try {
    ({ values, positionals: files } = parseCli({
      args: argv,
      allowPositionals: true,
      options: { threshold: { type: "string", multiple: true }, out: { type: "string", multiple: true }, json: { type: "string" }, html: { type: "string" }, "apart-ok": { type: "boolean" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (err) {
    console.error(`smtpchaos storm merge: ${(err as Error).message}`);
    return EXIT.usage;
  }
  if (values.help === true) {
    console.log(MERGE_USAGE);
    return EXIT.ok;
  }
  let merged: MergedRun;
  let unreachable: StormUnreachableError<MergedRun> | null = null;
  let outputs: ChosenOutputs<StormOutcome>;
  try {
    outputs = STORM_OUTPUTS.choose({ out: values.out, aliases: { json: values.json, html: values.html } }, { findLimit: false });
    try {
      merged = mergeStorms(files, { apartOk: values["apart-ok"] === true, thresholds: values.threshold ?? [] });
    } catch (err) {
      // nothing connected in any part: the report is still written, then the run is a usage error
      if (!(err instanceof StormUnreachableError)) throw err;
      unreachable = err as StormUnreachableError<MergedRun>;
      merged = unreachable.run;
    }
  } catch (err) {
    return reportUserError(err, "smtpchaos storm merge");
  }
  for (const n of merged.notes) console.error(`storm merge: note: ${visible(n)}`);
  if (!(await outputs.finish({ kind: "storm", result: merged, label: merged.label, thresholds: merged.thresholds, shrunk: null }, "smtpchaos storm merge"))) return EXIT.usage;
  if (unreachable !== null) return reportUserError(unreachable, "smtpchaos storm merge");
  return merged.passed ? EXIT.ok : EXIT.failures;
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "merge") return mergeMain(argv.slice(1));
  let values;
  try {
    ({ values } = parseCli({
      args: argv,
      options: {
        target: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        "tls-port": { type: "string" },
        host6: { type: "string" },
        port6: { type: "string" },
        sessions: { type: "string" },
        rate: { type: "string" },
        stages: { type: "string" },
        open: { type: "boolean" },
        "max-in-flight": { type: "string" },
        duration: { type: "string" },
        "max-sessions": { type: "string" },
        "max-messages": { type: "string" },
        mix: { type: "string" },
        weight: { type: "string", multiple: true },
        starttls: { type: "string" },
        "implicit-tls": { type: "string" },
        ipv6: { type: "string" },
        hold: { type: "string" },
        transactions: { type: "string" },
        seed: { type: "string" },
        timeout: { type: "string", default: "30s" },
        threshold: { type: "string", multiple: true },
        out: { type: "string", multiple: true },
        json: { type: "string" },
        html: { type: "string" },
        "allow-remote": { type: "boolean" },
        rcpt: { type: "string" },
        auth: { type: "string" },
        "slow-session": { type: "string" },
        "shrink-out": { type: "string" },
        "shrink-time": { type: "string", default: "60s" },
        "find-limit": { type: "boolean" },
        "limit-start": { type: "string", default: "10" },
        "limit-factor": { type: "string", default: "2" },
        "limit-max": { type: "string", default: "10000" },
        "limit-step": { type: "string", default: "10s" },
        "limit-errors": { type: "string", default: "1%" },
        "limit-p99": { type: "string", default: "2s" },
        "recovery-timeout": { type: "string", default: "30s" },
        workers: { type: "string" },
        shard: { type: "string" },
        "start-at": { type: "string" },
        "late-ok": { type: "boolean" },
        source: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    console.error(`smtpchaos storm: ${(err as Error).message}`);
    return EXIT.usage;
  }
  if (values.help === true) {
    console.log(USAGE);
    return EXIT.ok;
  }
  let p: Parsed;
  let maxSessions: number | undefined, maxMessages: number | undefined, maxInFlight: number;
  let auth: SessionTarget["auth"];
  let server: ServerChoice;
  let ports: { tlsPort: number | undefined; port6: number | undefined };
  let findLimitMax = 0;
  let outputs: ChosenOutputs<StormOutcome>;
  let workers = 1;
  let shard: Segment | undefined;
  let startAt: number | undefined;
  let sources: string[] | undefined;
  try {
    server = chooseServer(values);
    if (values.sessions !== undefined && values.rate !== undefined) throw new UsageError("--sessions (closed loop) and --rate (open loop) are exclusive");
    ports = {
      tlsPort: values["tls-port"] === undefined ? undefined : parsePort(values["tls-port"], "--tls-port"),
      port6: values.port6 === undefined ? undefined : parsePort(values.port6, "--port6"),
    };
    if (values.host6 !== undefined) assertLoopback(values.host6, values["allow-remote"] === true);
    const model: LoadModel = values.rate !== undefined || values.open === true ? "open" : "closed";
    const stages = values.stages === undefined ? undefined : parseStages(values.stages);
    const rate = values.rate === undefined ? undefined : parsePositiveNumber(values.rate.replace(/\/s$/, ""), "--rate");
    if (model === "open" && rate === undefined && stages === undefined && values["find-limit"] !== true) throw new UsageError("--open needs --stages (or use --rate N)");
    const durationMs = values.duration !== undefined ? parseDurationFlag(values.duration, "--duration") : stages !== undefined ? new Profile(stages).totalMs : 10_000;
    maxSessions = values["max-sessions"] === undefined ? undefined : parseCount(values["max-sessions"], "--max-sessions");
    maxMessages = values["max-messages"] === undefined ? undefined : parseCount(values["max-messages"], "--max-messages");
    maxInFlight = values["max-in-flight"] === undefined ? 10_000 : parseCount(values["max-in-flight"], "--max-in-flight");
    const seed = values.seed === undefined ? randomSeed() : parseSeed(values.seed);
    p = {
      model,
      concurrency: parseCount(values.sessions ?? "50", "--sessions"),
      rate,
      stages,
      durationMs,
      timeoutMs: parseDurationFlag(values.timeout, "--timeout"),
      seed,
      mix: buildMix(values),
      thresholds: (values.threshold ?? []).map(parseThreshold),
      slowSessionMs: values["slow-session"] === undefined ? undefined : parseDurationFlag(values["slow-session"], "--slow-session"),
    };
    workers = values.workers === undefined ? 1 : values.workers === "auto" ? os.availableParallelism() : parseCount(values.workers, "--workers");
    if (workers > 256) throw new UsageError(`--workers ${workers}: at most 256`);
    shard = values.shard === undefined ? undefined : rangeError(() => parseShard(values.shard as string));
    startAt = values["start-at"] === undefined ? undefined : rangeError(() => parseStartAt(values["start-at"] as string));
    sources = values.source === undefined ? undefined : rangeError(() => parseSources(values.source as string));
    if (values.auth !== undefined) {
      const i = values.auth.indexOf(":");
      if (i <= 0) throw new UsageError("--auth expects USER:PASS");
      auth = { user: values.auth.slice(0, i), pass: values.auth.slice(i + 1) };
    }
    // Report files are checked now: a typo in a directory must not cost the whole run.
    if (values["find-limit"] === true) findLimitMax = parsePositiveNumber(values["limit-max"], "--limit-max");
    outputs = STORM_OUTPUTS.choose({ out: values.out, aliases: { json: values.json, html: values.html } }, { findLimit: values["find-limit"] === true });
    if (values["shrink-out"] !== undefined) assertWritable(values["shrink-out"], "--shrink-out");
  } catch (err) {
    return reportUserError(err, "smtpchaos storm");
  }
  // The sessions this process holds at once: the closed loop's level (its stages' peak), the open
  // loop's in-flight cap, find-limit's last level (capped in flight when open); a shard its share.
  const closedPeak = values["find-limit"] === true ? findLimitMax : p.stages !== undefined ? new Profile(p.stages).peak : p.concurrency;
  const whole = p.model === "open" ? (values["find-limit"] === true ? Math.min(findLimitMax, maxInFlight) : maxInFlight) : closedPeak;
  const sessionsAtOnce = shard === undefined ? whole : Math.max(1, shareOf(Math.ceil(whole), shard));
  const limit = fdLimit();
  // The embedded target runs in this process by default: its side of each connection (and the
  // message file it writes) needs descriptors from the same limit.
  const need = fdsNeeded(sessionsAtOnce, values.target === "embedded");
  if (limit !== null && need > limit) {
    console.error(`smtpchaos storm: up to ${sessionsAtOnce} sessions${values.target === "embedded" ? " against the in-process embedded target" : ""} need about ${need} file descriptors, but the limit is ${limit}; raise it with 'ulimit -n ${need + 1024}' (Node cannot raise it itself)${values["find-limit"] === true ? ", or lower --limit-max" : p.model === "open" ? ", or lower --max-in-flight" : ", or lower --sessions"}`);
    return EXIT.usage;
  }
  const late = (): string | null => {
    if (startAt === undefined) return null;
    const lateMs = Date.now() - startAt;
    if (lateMs <= 0) return null;
    const text = `--start-at ${String(values["start-at"])} passed ${(lateMs / 1000).toFixed(1)} s ago${shard !== undefined ? ` (shard ${shard.index + 1}/${shard.count})` : ""}`;
    if (values["late-ok"] !== true) throw new UsageError(`${text}: this part would not run with the others; give a later time, or --late-ok to start anyway`);
    return text;
  };
  try {
    late();
  } catch (err) {
    console.error(`smtpchaos storm: ${(err as Error).message}`);
    return EXIT.usage;
  }
  let started: StartedTarget | null = null;
  // a target's own address replaces the host and port once it runs
  const target: SessionTarget = {
    host: "host" in server ? server.host : "127.0.0.1",
    port: "port" in server ? server.port : 25,
    rcpt: values.rcpt ?? "user@test.example",
    timeoutMs: p.timeoutMs,
    ...(ports.tlsPort !== undefined ? { tlsPort: ports.tlsPort } : {}),
    ...(values.host6 !== undefined ? { host6: values.host6, ...(ports.port6 !== undefined ? { port6: ports.port6 } : {}) } : {}),
    ...(auth !== undefined ? { auth } : {}),
    ...(sources !== undefined ? { sources } : {}),
  };
  if ("target" in server) {
    try {
      started = await startNamedTarget(server.target);
    } catch (err) {
      console.error(`smtpchaos storm: cannot start target "${server.target}": ${(err as Error).message}`);
      return EXIT.usage;
    }
    target.host = started.endpoint.host;
    target.port = started.endpoint.port;
    if (started.endpoint.tlsPort !== undefined) target.tlsPort = started.endpoint.tlsPort;
    target.rcpt = values.rcpt ?? started.mailboxes[0] ?? target.rcpt;
    // IPv6 only where the target says it listens (it checked that it owns ::1 at its ports):
    // probing ::1 at the same port could reach somebody else's server. --host6 still overrides.
    if (values.host6 === undefined && started.endpoint.host6 !== undefined) target.host6 = started.endpoint.host6;
  }
  const where = `${target.host}:${target.port}${p.mix.ipv6 > 0 && target.host6 !== undefined ? `, [${target.host6}]:${target.port6 ?? target.port}` : ""}`;
  const label = started !== null ? `${started.target.name} (${where})` : where;
  if (p.mix.ipv6 > 0 && target.host6 === undefined) console.error(`storm: no IPv6 endpoint (${values.target !== undefined ? `target "${values.target}" listens on IPv4 only here` : "give --host6"}); IPv6 sessions connect over IPv4 and are counted as ipv6-unavailable`);
  const abort = new AbortController();
  const cut = new AbortController();
  // SIGTERM (CI cancelling a job, `timeout`) ends the run like Ctrl-C: partial report, exit 130.
  // The first lets in-flight sessions finish; the second cuts them (counted "overdue") and the
  // partial report follows at once; if anything still holds the process 2 s after it, it exits.
  const onSignal = (): void => {
    if (!abort.signal.aborted) {
      process.stderr.write("\nsmtpchaos storm: interrupted; letting in-flight sessions finish, then reporting (interrupt again to stop now)\n");
      abort.abort();
      return;
    }
    if (cut.signal.aborted) return;
    process.stderr.write("\nsmtpchaos storm: interrupted again; cutting in-flight sessions and reporting\n");
    cut.abort();
    setTimeout(() => {
      process.stderr.write("smtpchaos storm: still not done 2 s after the second interrupt; exiting\n");
      process.exit(EXIT.interrupted);
    }, 1900).unref();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const lateText = late();
    if (lateText !== null) console.error(`storm: warning: ${lateText}; starting now (--late-ok)`);
    else if (startAt !== undefined) {
      console.error(`storm: waiting until ${new Date(startAt).toISOString()} to start${shard !== undefined ? ` (shard ${shard.index + 1}/${shard.count})` : ""}`);
      await waitUntil(startAt, abort.signal);
    }
    if (values["find-limit"] === true) return await runFindLimit(values, p, target, label, abort.signal, maxInFlight, outputs, workers, cut.signal);
    return await runOne(values, p, target, label, abort.signal, { maxSessions, maxMessages, maxInFlight, workers, shard, cutSignal: cut.signal }, outputs);
  } catch (err) {
    return reportUserError(err, "smtpchaos storm");
  } finally {
    // Sessions cut by a second interrupt may still hold sockets: once the report is out, exit.
    if (cut.signal.aborted) setTimeout(() => process.exit(EXIT.interrupted), 100).unref();
    await started?.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** A parser's RangeError as the one-line usage error it is. */
function rangeError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
}

interface RunBounds {
  maxSessions: number | undefined;
  maxMessages: number | undefined;
  maxInFlight: number;
  workers: number;
  shard: Segment | undefined;
  cutSignal: AbortSignal;
}

async function runOne(values: Values, p: Parsed, target: SessionTarget, label: string, signal: AbortSignal, bounds: RunBounds, outputs: ChosenOutputs<StormOutcome>): Promise<number> {
  const tty = process.stderr.isTTY === true;
  const load = p.stages !== undefined ? `stages ${String(values.stages)} (${p.model} loop)` : p.model === "open" ? `${p.rate}/s arrivals (open loop)` : `${p.concurrency} concurrent sessions`;
  const parts = `${bounds.shard !== undefined ? `, shard ${bounds.shard.index + 1}/${bounds.shard.count}` : ""}${bounds.workers > 1 ? `, ${bounds.workers} worker threads` : ""}`;
  console.error(`storm: ${load} for ${formatDuration(p.durationMs)} against ${label}, seed ${p.seed}${parts}`);
  const isFailure = isFailureRule(p.slowSessionMs);
  const whole: StormOptions = {
    target,
    model: p.model,
    concurrency: p.concurrency,
    rate: p.rate,
    stages: p.stages,
    durationMs: p.durationMs,
    maxSessions: bounds.maxSessions,
    maxMessages: bounds.maxMessages,
    maxInFlight: bounds.maxInFlight,
    mix: p.mix,
    seed: p.seed,
  };
  // A shard runs its share of the whole run: the options describe the whole, the segment cuts it.
  const mine = bounds.shard === undefined ? whole : segmentOptions(whole, bounds.shard);
  const result: StormResult = await runStorm({
    ...mine,
    workers: bounds.workers,
    signal,
    cutSignal: bounds.cutSignal,
    ...(p.slowSessionMs !== undefined ? { slowSessionMs: p.slowSessionMs } : {}),
    onTick: (m, elapsed) => {
      const rate = m.timeline.at(-1)?.accepted ?? 0;
      const eta = Math.max(0, (p.durationMs - elapsed) / 1000).toFixed(0);
      const line = `${(elapsed / 1000).toFixed(0).padStart(4)}s  sessions ${m.sessions}  in flight ${m.inFlight}  accepted ${m.accepted} (${rate}/s)  4xx/5xx ${m.count("tempfail") + m.count("permfail")}  ungraceful ${m.ungraceful()}${m.dropped > 0 ? `  dropped ${m.dropped}` : ""}  eta ${eta}s`;
      // Redraw in place on a terminal; a line every 5 s in logs.
      if (tty) process.stderr.write(`\r${line}\x1b[K`);
      else if (Math.round(elapsed / 1000) % 5 === 0) process.stderr.write(line + "\n");
    },
  });
  if (tty) process.stderr.write("\n");
  if (bounds.shard !== undefined) result.shard = { ...bounds.shard, runSeed: p.seed };
  const judged = evaluate(p.thresholds, result.metrics);
  // lines for people: on stderr when a document (--out json) has stdout
  const info = outputs.stdoutTaken ? console.error : console.log;
  let written = true;
  let shrunk: Record<string, unknown> | null = null;
  const shrinkOut = values["shrink-out"];
  if (typeof shrinkOut === "string") {
    if (result.failure === null) info("shrink: no session failed; nothing to shrink");
    else {
      const f = result.failure;
      info(`shrink: first failed session: ${f.plan.kind} -> ${f.outcome} (origin seed ${f.origin.seed} path ${f.origin.path}); shrinking against the target...`);
      const s = await shrinkFailure({ failure: f, mix: p.mix, target, isFailure, timeLimitMs: parseDurationFlag(values["shrink-time"] as string, "--shrink-time") });
      if (!s.reproduced) info("shrink: replaying that session alone did not fail again (the failure depends on load); no script written");
      else {
        if (!writeReport(shrinkOut, shrunkScript(s, f, target.rcpt, p.seed), "smtpchaos storm")) written = false;
        info(`shrink: ${s.shrinks} steps, ${s.runs} sessions; smallest failing plan ${JSON.stringify(s.plan)} -> ${s.outcome ?? "?"}; written to ${shrinkOut}`);
        info(`        rerun it: smtpscript --host ${target.host} --port ${target.port} ${shrinkOut}`);
      }
      shrunk = { reproduced: s.reproduced, plan: s.plan, outcome: s.outcome, shrinks: s.shrinks, runs: s.runs, file: s.reproduced ? shrinkOut : null };
    }
  }
  if (!(await outputs.finish({ kind: "storm", result, label, thresholds: judged, shrunk }, "smtpchaos storm"))) written = false;
  if (result.interrupted) return EXIT.interrupted;
  const unreachable = unreachableText(result.metrics, whereOf(target, p.mix), result.unreachable);
  if (unreachable !== null) {
    console.error(`smtpchaos storm: ${unreachable}`);
    return EXIT.usage;
  }
  if (!written) return EXIT.usage;
  if (shrunk !== null && shrunk.reproduced === true) return EXIT.failures;
  return judged.every((t) => t.ok) ? EXIT.ok : EXIT.failures;
}

async function runFindLimit(values: Values, p: Parsed, target: SessionTarget, label: string, signal: AbortSignal, maxInFlight: number, outputs: ChosenOutputs<StormOutcome>, workers: number, cutSignal: AbortSignal): Promise<number> {
  const errors = String(values["limit-errors"]);
  const maxErrorRate = errors.endsWith("%") ? Number(errors.slice(0, -1)) / 100 : Number(errors);
  if (!(maxErrorRate >= 0 && maxErrorRate <= 1)) throw new UsageError(`--limit-errors: not a share: ${errors}`);
  const opts = {
    target,
    mix: p.mix,
    seed: p.seed,
    model: p.model,
    start: parsePositiveNumber(String(values["limit-start"]), "--limit-start"),
    factor: parsePositiveNumber(String(values["limit-factor"]), "--limit-factor"),
    maxLevel: parsePositiveNumber(String(values["limit-max"]), "--limit-max"),
    stepMs: parseDurationFlag(values["limit-step"] as string, "--limit-step"),
    maxErrorRate,
    maxP99Ms: parseDurationFlag(values["limit-p99"] as string, "--limit-p99"),
    recoveryTimeoutMs: parseDurationFlag(values["recovery-timeout"] as string, "--recovery-timeout"),
    maxInFlight,
    workers,
    signal,
    cutSignal,
  };
  if (!(opts.factor > 1)) throw new UsageError("--limit-factor must be above 1");
  console.error(`storm: find-limit from ${opts.start} x${opts.factor} up to ${opts.maxLevel} ${p.model === "open" ? "arrivals/s" : "sessions"}, ${formatDuration(opts.stepMs)} per step, against ${label}, seed ${p.seed}`);
  const r = await findLimit({
    ...opts,
    onStep: (s) => console.error(`  level ${s.level}: ${s.sessions} sessions, ${(s.errorRate * 100).toFixed(1)}% failed, p99 ${s.p99Ms.toFixed(0)} ms${s.degraded ? ` -> degraded (${s.reason})` : ""}`),
  });
  const written = await outputs.finish({ kind: "find-limit", result: r, label, seed: p.seed }, "smtpchaos storm");
  if (r.interrupted) return EXIT.interrupted;
  if (!written) return EXIT.usage;
  // Failing ungracefully at the breaking point is what CI should catch.
  return r.shedding === "ungraceful" || r.shedding === "mixed" ? EXIT.failures : EXIT.ok;
}

function buildMix(values: Values): Mix {
  const raw = typeof values.mix === "string" ? readMixFile(values.mix) : {};
  const m: Record<string, unknown> = { ...raw };
  let weights: Record<string, string>;
  try {
    weights = parseAssignments(values.weight as string[] | undefined, "--weight");
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (e.g. --weight basic=3)`);
  }
  if (Object.keys(weights).length > 0) {
    // With a mix file, flags override its weights kind by kind; without one they are the whole mix.
    const base: Record<string, number> = { ...((raw.weights as Record<string, number> | undefined) ?? {}) };
    for (const [k, v] of Object.entries(weights)) base[k] = Number(v);
    m.weights = base;
  }
  if (typeof values.starttls === "string") m.starttls = Number(values.starttls);
  if (typeof values["implicit-tls"] === "string") m.implicitTls = Number(values["implicit-tls"]);
  if (typeof values.ipv6 === "string") m.ipv6 = Number(values.ipv6);
  if (typeof values.transactions === "string") {
    const t = /^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$/.exec(values.transactions);
    if (t === null) throw new UsageError(`--transactions expects N or MIN..MAX, got "${values.transactions}"`);
    m.transactions = { min: Number(t[1]), max: Number(t[2] ?? t[1]) };
  }
  if (typeof values.hold === "string") {
    const d = parseDurationFlag(values.hold, "--hold");
    m.hold = { min: d, max: d };
  }
  return validateMix(m);
}

