// `smtpchaos storm [--target NAME | --host H --port P] --sessions N --duration D ...`
import { parseArgs } from "node:util";
import { readFileSync, writeFileSync } from "node:fs";
import YAML from "yaml";
import { EXIT } from "../bin/exit-codes.js";
import { parseDuration } from "../common/duration.js";
import { startNamedTarget } from "../targets/registry.js";
import type { StartedTarget } from "../targets/registry.js";
import { DEFAULT_MIX, MixError, validateMix } from "./plan.js";
import type { Mix } from "./plan.js";
import { runStorm } from "./scheduler.js";
import { assertLoopback, RemoteTargetError } from "./safety.js";
import { parseThreshold, ThresholdError } from "./thresholds.js";
import type { Threshold } from "./thresholds.js";
import { evaluate, summaryText, toJson } from "./report.js";
import { renderHtml } from "./html-report.js";
import { formatDuration } from "../common/duration.js";
import { fdLimit } from "./limits.js";

const USAGE = `usage: smtpchaos storm [--target NAME | --host H --port P] [options]

Floods a server with concurrent, varied SMTP sessions (closed loop: --sessions at all times)
for a bounded time, then prints per-phase latency percentiles, outcomes and reply codes.

  --target NAME          embedded, opensmtpd or postfix (started and stopped for the run)
  --host H --port P      a server you run; loopback only unless --allow-remote
  --sessions N           concurrent sessions (default 50)
  --duration D           how long to start new sessions (default 10s; e.g. 30s, 2m)
  --max-sessions N       also stop after starting N sessions
  --mix FILE             session mix (YAML/JSON: weights, size, rcpts, starttls)
  --seed N               replay a run (printed in every report)
  --timeout D            per-wait timeout inside a session (default 30s)
  --threshold EXPR       e.g. "p99(dot)<500ms", "rate(ungraceful)==0"; repeatable
  --json FILE            write the report as JSON
  --html FILE            write a self-contained HTML report (charts, no network needed)
  --allow-remote         permit a non-loopback --host
  --rcpt ADDR            recipient (default: the target's first mailbox, or user@test.example)

exit codes: 0 done and every threshold passed, 1 a threshold failed, 2 usage error or
unreachable target, 130 interrupted (the partial report is still printed and written)`;

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        target: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        sessions: { type: "string", default: "50" },
        duration: { type: "string", default: "10s" },
        "max-sessions": { type: "string" },
        mix: { type: "string" },
        seed: { type: "string" },
        timeout: { type: "string", default: "30s" },
        threshold: { type: "string", multiple: true },
        json: { type: "string" },
        html: { type: "string" },
        "allow-remote": { type: "boolean" },
        rcpt: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    console.error(`smtpchaos storm: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (values.help === true) {
    console.log(USAGE);
    return EXIT.ok;
  }
  let concurrency: number, durationMs: number, timeoutMs: number, seed: number, maxSessions: number | undefined;
  let mix: Mix;
  let thresholds: Threshold[];
  try {
    if (values.target === undefined && values.port === undefined) throw new UsageError("give --target NAME or --host/--port");
    if (values.target !== undefined && (values.host !== undefined || values.port !== undefined)) throw new UsageError("--target and --host/--port are exclusive");
    concurrency = positiveInt(values.sessions, "--sessions");
    durationMs = duration(values.duration, "--duration");
    timeoutMs = duration(values.timeout, "--timeout");
    maxSessions = values["max-sessions"] === undefined ? undefined : positiveInt(values["max-sessions"], "--max-sessions");
    seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
    if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got ${values.seed}`);
    mix = values.mix === undefined ? DEFAULT_MIX : validateMix(YAML.parse(readFileSync(values.mix, "utf8")));
    thresholds = (values.threshold ?? []).map(parseThreshold);
    if (values.host !== undefined) assertLoopback(values.host, values["allow-remote"] === true);
  } catch (err) {
    if (err instanceof UsageError || err instanceof MixError || err instanceof ThresholdError || err instanceof RemoteTargetError || (err as NodeJS.ErrnoException).code === "ENOENT") {
      console.error(`smtpchaos storm: ${(err as Error).message}`);
      return EXIT.usage;
    }
    throw err;
  }
  const limit = fdLimit();
  if (limit !== null && concurrency + 64 > limit) {
    console.error(`smtpchaos storm: ${concurrency} sessions need about ${concurrency + 64} file descriptors, but the limit is ${limit}; raise it with 'ulimit -n ${concurrency + 1024}' (Node cannot raise it itself)`);
    return EXIT.usage;
  }

  let started: StartedTarget | null = null;
  let host = values.host ?? "127.0.0.1";
  let port = values.port === undefined ? 25 : Number(values.port);
  let rcpt = values.rcpt ?? "user@test.example";
  if (values.target !== undefined) {
    try {
      started = await startNamedTarget(values.target);
    } catch (err) {
      console.error(`smtpchaos storm: cannot start target "${values.target}": ${(err as Error).message}`);
      return EXIT.usage;
    }
    host = started.endpoint.host;
    port = started.endpoint.port;
    rcpt = values.rcpt ?? started.mailboxes[0] ?? rcpt;
  }
  const label = values.target !== undefined ? `${values.target} (${host}:${port})` : `${host}:${port}`;
  const abort = new AbortController();
  const onSigint = (): void => {
    if (abort.signal.aborted) return;
    process.stderr.write("\nsmtpchaos storm: interrupted; letting in-flight sessions finish, then reporting\n");
    abort.abort();
  };
  process.on("SIGINT", onSigint);
  const tty = process.stderr.isTTY === true;
  console.error(`storm: ${concurrency} concurrent sessions for ${formatDuration(durationMs)} against ${label}, seed ${seed}`);
  try {
    const result = await runStorm({
      target: { host, port, rcpt, timeoutMs },
      concurrency,
      durationMs,
      maxSessions,
      mix,
      seed,
      signal: abort.signal,
      onTick: (m, elapsed) => {
        const rate = m.timeline.at(-1)?.accepted ?? 0;
        const eta = Math.max(0, (durationMs - elapsed) / 1000).toFixed(0);
        const line = `${(elapsed / 1000).toFixed(0).padStart(4)}s  sessions ${m.sessions}  in flight ${m.inFlight}  accepted ${m.accepted} (${rate}/s)  4xx/5xx ${m.count("tempfail") + m.count("permfail")}  ungraceful ${m.ungraceful()}  eta ${eta}s`;
        // Redraw in place on a terminal; a line every 5 s in logs.
        if (tty) process.stderr.write(`\r${line}\x1b[K`);
        else if (Math.round(elapsed / 1000) % 5 === 0) process.stderr.write(line + "\n");
      },
    });
    if (tty) process.stderr.write("\n");
    const judged = evaluate(thresholds, result.metrics);
    console.log(summaryText(result, label, judged));
    const report = toJson(result, label, judged);
    if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(report, null, 2) + "\n");
    if (values.html !== undefined) writeFileSync(values.html, renderHtml(report));
    if (result.interrupted) return EXIT.interrupted;
    return judged.every((t) => t.ok) ? EXIT.ok : EXIT.failures;
  } finally {
    process.off("SIGINT", onSigint);
    await started?.stop();
  }
}

function positiveInt(v: string | undefined, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got ${v}`);
  return n;
}

function duration(v: string | undefined, flag: string): number {
  const d = parseDuration(v ?? "");
  if (d === null || d <= 0) throw new UsageError(`${flag}: not a duration: "${v}" (e.g. 500ms, 30s, 2m)`);
  return d;
}
