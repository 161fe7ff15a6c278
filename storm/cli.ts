// `smtpchaos storm [--target NAME | --host H --port P] --sessions N --duration D ...`: the
// configuration (cli-config.ts), checked against this machine, run; and `storm merge`.
import { EXIT } from "../common/exit-codes.js";
import { reportUserError, UsageError } from "../common/errors.js";
import { onInterrupt } from "../common/interrupt.js";
import { startNamedTarget, targetNames } from "../targets/registry.js";
import type { StartedTarget } from "../targets/registry.js";
import { DEFAULT_MIX } from "./plan.js";
import { KINDS } from "./kinds/index.js";
import type { SessionTarget } from "./session.js";
import { STORM_OUTPUTS } from "./outputs/index.js";
import { fdLimit, fdsNeeded } from "./limits.js";
import { Profile } from "./profile.js";
import { shareOf } from "./segment.js";
import type { Segment } from "./segment.js";
import { waitUntil } from "./start-at.js";
import { mergeMain } from "./merge-cli.js";
import { parseStormArgs } from "./cli-config.js";
import type { StartAt, StormConfig } from "./cli-config.js";
import { runFindLimit, runOne } from "./cli-run.js";

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

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "merge") return mergeMain(argv.slice(1));
  let config: StormConfig | "help";
  try {
    config = parseStormArgs(argv);
  } catch (err) {
    return reportUserError(err, "smtpchaos storm");
  }
  if (config === "help") {
    console.log(USAGE);
    return EXIT.ok;
  }
  try {
    // this machine, now: descriptors enough for the load, and --start-at still ahead
    assertDescriptors(config);
    lateness(config.startAt, config.shard);
  } catch (err) {
    return reportUserError(err, "smtpchaos storm");
  }
  return run(config);
}

async function run(config: StormConfig): Promise<number> {
  const target = sessionTarget(config);
  let started: StartedTarget | null = null;
  if ("target" in config.server) {
    try {
      started = await startNamedTarget(config.server.target);
    } catch (err) {
      console.error(`smtpchaos storm: cannot start target "${config.server.target}": ${(err as Error).message}`);
      return EXIT.usage;
    }
    useStarted(target, started, config.endpoint.rcpt);
  }
  const label = labelOf(target, started, config);
  // SIGTERM (CI cancelling a job, `timeout`) ends the run like Ctrl-C: partial report, exit 130.
  // The first lets in-flight sessions finish; the second cuts them (counted "overdue") and the
  // partial report follows at once; cut sessions may still hold sockets, hence exitWithinMs.
  const interrupts = onInterrupt({ tool: "smtpchaos storm", first: "letting in-flight sessions finish, then reporting", cut: "cutting in-flight sessions and reporting", exitWithinMs: 2000 });
  try {
    await startWhenDue(config, interrupts.signal);
    const stop = { signal: interrupts.signal, cutSignal: interrupts.cut };
    if (config.run.kind === "find-limit") return await runFindLimit(config, config.run, target, label, stop);
    return await runOne(config, config.run, target, label, stop);
  } catch (err) {
    return reportUserError(err, "smtpchaos storm");
  } finally {
    await started?.stop();
    interrupts.off();
  }
}

/** The sessions this process holds at once must fit the file descriptor limit: refused before the run. */
function assertDescriptors(config: StormConfig): void {
  const limit = fdLimit();
  // The embedded target runs in this process by default: its side of each connection (and the
  // message file it writes) needs descriptors from the same limit.
  const inProcess = "target" in config.server && config.server.target === "embedded";
  const atOnce = sessionsAtOnce(config);
  const need = fdsNeeded(atOnce, inProcess);
  if (limit === null || need <= limit) return;
  const lower = config.run.kind === "find-limit" ? "--limit-max" : config.run.model === "open" ? "--max-in-flight" : "--sessions";
  throw new UsageError(`up to ${atOnce} sessions${inProcess ? " against the in-process embedded target" : ""} need about ${need} file descriptors, but the limit is ${limit}; raise it with 'ulimit -n ${need + 1024}' (Node cannot raise it itself), or lower ${lower}`);
}

/** The closed loop's level (its stages' peak), the open loop's in-flight cap, find-limit's last
 * level (capped in flight when open); a shard its share. */
function sessionsAtOnce(config: StormConfig): number {
  const { run } = config;
  const closedPeak = run.kind === "find-limit" ? run.maxLevel : "stages" in run.level ? new Profile(run.level.stages).peak : run.level.constant;
  const whole = run.model === "open" ? (run.kind === "find-limit" ? Math.min(run.maxLevel, config.maxInFlight) : config.maxInFlight) : closedPeak;
  return config.shard === undefined ? whole : Math.max(1, shareOf(Math.ceil(whole), config.shard));
}

/** " (shard I/N)" for messages, or nothing. */
function shardNote(shard: Segment | undefined): string {
  return shard !== undefined ? ` (shard ${shard.index + 1}/${shard.count})` : "";
}

/** How late --start-at is (text for a warning), null when not; a UsageError when too late without --late-ok. */
function lateness(start: StartAt | undefined, shard: Segment | undefined): string | null {
  if (start === undefined) return null;
  const lateMs = Date.now() - start.at;
  if (lateMs <= 0) return null;
  const text = `--start-at ${start.text} passed ${(lateMs / 1000).toFixed(1)} s ago${shardNote(shard)}`;
  if (!start.lateOk) throw new UsageError(`${text}: this part would not run with the others; give a later time, or --late-ok to start anyway`);
  return text;
}

/** Waits for --start-at (a first interrupt ends the wait), or warns how late it is. */
async function startWhenDue(config: StormConfig, signal: AbortSignal): Promise<void> {
  const late = lateness(config.startAt, config.shard);
  if (late !== null) console.error(`storm: warning: ${late}; starting now (--late-ok)`);
  else if (config.startAt !== undefined) {
    console.error(`storm: waiting until ${new Date(config.startAt.at).toISOString()} to start${shardNote(config.shard)}`);
    await waitUntil(config.startAt.at, signal);
  }
}

/** Where the sessions go; a target's own address replaces host and port once it runs. */
function sessionTarget(config: StormConfig): SessionTarget {
  const { server, endpoint: e } = config;
  return {
    host: "host" in server ? server.host : "127.0.0.1",
    port: "port" in server ? server.port : 25,
    rcpt: e.rcpt ?? "user@test.example",
    timeoutMs: config.timeoutMs,
    ...(e.tlsPort !== undefined ? { tlsPort: e.tlsPort } : {}),
    ...(e.host6 !== undefined ? { host6: e.host6, ...(e.port6 !== undefined ? { port6: e.port6 } : {}) } : {}),
    ...(e.auth !== undefined ? { auth: e.auth } : {}),
    ...(e.sources !== undefined ? { sources: e.sources } : {}),
  };
}

/** A started target's address, TLS port, first mailbox and IPv6 address, where no flag gave them. */
function useStarted(target: SessionTarget, started: StartedTarget, rcpt: string | undefined): void {
  target.host = started.endpoint.host;
  target.port = started.endpoint.port;
  if (started.endpoint.tlsPort !== undefined) target.tlsPort = started.endpoint.tlsPort;
  target.rcpt = rcpt ?? started.mailboxes[0] ?? target.rcpt;
  // IPv6 only where the target says it listens (it checked that it owns ::1 at its ports):
  // probing ::1 at the same port could reach somebody else's server. --host6 still overrides.
  if (target.host6 === undefined && started.endpoint.host6 !== undefined) target.host6 = started.endpoint.host6;
}

/** The run's name in reports; says (on stderr) when IPv6 sessions have no IPv6 address. */
function labelOf(target: SessionTarget, started: StartedTarget | null, config: StormConfig): string {
  const ipv6 = config.mix.ipv6 > 0;
  const where = `${target.host}:${target.port}${ipv6 && target.host6 !== undefined ? `, [${target.host6}]:${target.port6 ?? target.port}` : ""}`;
  if (ipv6 && target.host6 === undefined) console.error(`storm: no IPv6 endpoint (${"target" in config.server ? `target "${config.server.target}" listens on IPv4 only here` : "give --host6"}); IPv6 sessions connect over IPv4 and are counted as ipv6-unavailable`);
  return started !== null ? `${started.target.name} (${where})` : where;
}
