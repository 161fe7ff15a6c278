// `smtpchaos storm` flags read into one typed configuration. parseStormArgs checks every flag
// (and claims the report files) and does nothing else; cli.ts runs the configuration.
import os from "node:os";
import { parseSeed, randomSeed } from "../common/rng.js";
import { parseCli, parseCount, parseDurationFlag, parsePort, parsePositiveNumber } from "../common/args.js";
import { assertWritable } from "../common/output-file.js";
import type { ChosenOutputs } from "../common/output.js";
import { UsageError } from "../common/errors.js";
import { assertLoopback } from "../common/loopback.js";
import { chooseServer } from "../targets/server-choice.js";
import type { ServerChoice } from "../targets/server-choice.js";
import type { Mix } from "./plan.js";
import type { LoadModel } from "./scheduler.js";
import type { FindLimitOptions } from "./find-limit.js";
import { parseThreshold } from "./thresholds.js";
import type { Threshold } from "./thresholds.js";
import { STORM_OUTPUTS } from "./outputs/index.js";
import type { StormOutcome } from "./outputs/index.js";
import { parseStages, Profile } from "./profile.js";
import type { Stage } from "./profile.js";
import { parseShard } from "./segment.js";
import type { Segment } from "./segment.js";
import { parseStartAt } from "./start-at.js";
import { parseSources } from "./sources.js";
import { mixOf } from "./mix-flags.js";

const OPTIONS = {
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
} as const;

function parseFlags(argv: string[]) {
  return parseCli({ args: argv, options: OPTIONS });
}

/** The flags as parseArgs read them (defaults filled in). */
export type StormValues = ReturnType<typeof parseFlags>["values"];

export interface StormConfig {
  /** a target the run starts and stops, or a server the user runs */
  server: ServerChoice;
  endpoint: EndpointFlags;
  run: OneStorm | LimitSearch;
  mix: Mix;
  seed: number;
  /** per-wait timeout inside a session */
  timeoutMs: number;
  /** open loop: arrivals while this many sessions are in flight are dropped */
  maxInFlight: number;
  /** worker threads sharing the load */
  workers: number;
  /** --shard I/N: this process runs part I of N of the run */
  shard: Segment | undefined;
  startAt: StartAt | undefined;
  outputs: ChosenOutputs<StormOutcome>;
  /** --allow-remote: the target may be off loopback */
  allowRemote: boolean;
}

/** The rest of the server under test: its other ports and addresses, and what sessions send it. */
export interface EndpointFlags {
  tlsPort: number | undefined;
  host6: string | undefined;
  port6: number | undefined;
  /** --rcpt; without it, the target's first mailbox or user@test.example */
  rcpt: string | undefined;
  auth: { user: string; pass: string } | undefined;
  sources: string[] | undefined;
}

/** How much load: a constant level (sessions in flight, or arrivals per second in the open loop), or stages ramping it. */
export type Level = { constant: number } | { stages: Stage[]; spec: string };

/** One storm of a bounded duration, judged by thresholds. */
export interface OneStorm {
  kind: "storm";
  model: LoadModel;
  level: Level;
  durationMs: number;
  maxSessions: number | undefined;
  maxMessages: number | undefined;
  thresholds: Threshold[];
  /** a session taking longer counts as failed */
  slowSessionMs: number | undefined;
  /** --shrink-out: the first failed session, shrunk within timeLimitMs, written to file as a test-case */
  shrink: { file: string; timeLimitMs: number } | null;
}

/** --find-limit: steps of rising load until the target degrades, instead of one storm. */
export type LimitSearch = { kind: "find-limit" } & Pick<FindLimitOptions, "model" | "start" | "factor" | "maxLevel" | "stepMs" | "maxErrorRate" | "maxP99Ms" | "recoveryTimeoutMs">;

/** --start-at: when to start, as given (for messages), and whether a time already past may start. */
export interface StartAt {
  at: number;
  text: string;
  lateOk: boolean;
}

/** Throws a UsageError (or a ThresholdError, a MixError) for anything it cannot take. */
export function parseStormArgs(argv: string[]): StormConfig | "help" {
  const { values } = parseFlags(argv);
  if (values.help === true) return "help";
  const server = chooseServer(values);
  if (values.sessions !== undefined && values.rate !== undefined) throw new UsageError("--sessions (closed loop) and --rate (open loop) are exclusive");
  const tlsPort = values["tls-port"] === undefined ? undefined : parsePort(values["tls-port"], "--tls-port");
  const port6 = values.port6 === undefined ? undefined : parsePort(values.port6, "--port6");
  if (values.host6 !== undefined) assertLoopback(values.host6, values["allow-remote"] === true);
  const findLimit = values["find-limit"] === true;
  const model: LoadModel = values.rate !== undefined || values.open === true ? "open" : "closed";
  const stages = optional(values.stages, (spec) => ({ stages: parseStages(spec), spec }));
  const rate = optional(values.rate, (v) => parsePositiveNumber(v.replace(/\/s$/, ""), "--rate"));
  const concurrency = parseCount(values.sessions ?? "50", "--sessions");
  // the open loop's level is its rate: without one (nor stages), only --find-limit knows the level
  const level: Level | null = stages ?? (model === "closed" ? { constant: concurrency } : rate !== undefined ? { constant: rate } : null);
  if (level === null && !findLimit) throw new UsageError("--open needs --stages (or use --rate N)");
  const durationMs = values.duration !== undefined ? parseDurationFlag(values.duration, "--duration") : stages !== undefined ? new Profile(stages.stages).totalMs : 10_000;
  const maxSessions = optional(values["max-sessions"], (v) => parseCount(v, "--max-sessions"));
  const maxMessages = optional(values["max-messages"], (v) => parseCount(v, "--max-messages"));
  const maxInFlight = values["max-in-flight"] === undefined ? 10_000 : parseCount(values["max-in-flight"], "--max-in-flight");
  const seed = values.seed === undefined ? randomSeed() : parseSeed(values.seed);
  const timeoutMs = parseDurationFlag(values.timeout, "--timeout");
  const mix = mixOf(values);
  const thresholds = (values.threshold ?? []).map(parseThreshold);
  const slowSessionMs = optional(values["slow-session"], (v) => parseDurationFlag(v, "--slow-session"));
  const workers = values.workers === undefined ? 1 : values.workers === "auto" ? os.availableParallelism() : parseCount(values.workers, "--workers");
  if (workers > 256) throw new UsageError(`--workers ${workers}: at most 256`);
  const shard = optional(values.shard, (v) => rangeError(() => parseShard(v)));
  const startAt = optional(values["start-at"], (text) => ({ at: rangeError(() => parseStartAt(text)), text, lateOk: values["late-ok"] === true }));
  const sources = optional(values.source, (v) => rangeError(() => parseSources(v)));
  const auth = optional(values.auth, credentials);
  const run: OneStorm | LimitSearch = findLimit || level === null ? limitSearch(values, model) : { kind: "storm", model, level, durationMs, maxSessions, maxMessages, thresholds, slowSessionMs, shrink: shrinkOf(values) };
  // Report files are checked now: a typo in a directory must not cost the whole run.
  const outputs = STORM_OUTPUTS.choose({ out: values.out, aliases: { json: values.json, html: values.html } }, { findLimit });
  if (values["shrink-out"] !== undefined) assertWritable(values["shrink-out"], "--shrink-out");
  return {
    server,
    endpoint: { tlsPort, host6: values.host6, port6, rcpt: values.rcpt, auth, sources },
    run,
    mix,
    seed,
    timeoutMs,
    maxInFlight,
    workers,
    shard,
    startAt,
    outputs,
    allowRemote: values["allow-remote"] === true,
  };
}

function optional<T>(value: string | undefined, parse: (v: string) => T): T | undefined {
  return value === undefined ? undefined : parse(value);
}

/** A parser's RangeError as the one-line usage error it is. */
function rangeError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
}

function credentials(text: string): { user: string; pass: string } {
  const i = text.indexOf(":");
  if (i <= 0) throw new UsageError("--auth expects USER:PASS");
  return { user: text.slice(0, i), pass: text.slice(i + 1) };
}

function shrinkOf(values: StormValues): OneStorm["shrink"] {
  const file = values["shrink-out"];
  return file === undefined ? null : { file, timeLimitMs: parseDurationFlag(values["shrink-time"], "--shrink-time") };
}

function limitSearch(values: StormValues, model: LoadModel): LimitSearch {
  const errors = values["limit-errors"];
  const maxErrorRate = errors.endsWith("%") ? Number(errors.slice(0, -1)) / 100 : Number(errors);
  if (!(maxErrorRate >= 0 && maxErrorRate <= 1)) throw new UsageError(`--limit-errors: not a share: ${errors}`);
  const search: LimitSearch = {
    kind: "find-limit",
    model,
    start: parsePositiveNumber(values["limit-start"], "--limit-start"),
    factor: parsePositiveNumber(values["limit-factor"], "--limit-factor"),
    maxLevel: parsePositiveNumber(values["limit-max"], "--limit-max"),
    stepMs: parseDurationFlag(values["limit-step"], "--limit-step"),
    maxErrorRate,
    maxP99Ms: parseDurationFlag(values["limit-p99"], "--limit-p99"),
    recoveryTimeoutMs: parseDurationFlag(values["recovery-timeout"], "--recovery-timeout"),
  };
  if (!(search.factor > 1)) throw new UsageError("--limit-factor must be above 1");
  return search;
}
