// storm vs Postfix's smtp-source (a C program) and vs a bare Node.js client doing storm's dialogue
// (bench/bare-client.ts: the runtime's limit), all against Postfix's smtp-sink on loopback, in one
// run: for each concurrency, runs alternate A/B/C/A/B/C (so drift in machine load hits every side
// alike) and the medians are compared. Each pair is like-for-like on connection reuse;
// whether a side pipelines is printed with it (smtp-source never pipelines).
// usage: node dist/bench/storm-vs-smtp-source.js [--concurrency 10,100,1000] [--messages 20000]
//        [--rounds 3] [--pairs per-connection,pipelined,reuse,reuse-pipelined] [--markdown]
// Every storm side is real storm (runStorm with a one-kind mix); with reuse, the mix's
// `transactions` gives each of the C sessions its share of the messages, like smtp-source -d.
// Needs `ulimit -n` above twice the largest concurrency (npm run bench raises it).
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import Table from "cli-table3";
import { runStorm } from "../storm/scheduler.js";
import { DEFAULT_MIX } from "../storm/plan.js";
import type { Mix, SessionKind } from "../storm/plan.js";
import { fdLimit } from "../storm/limits.js";
import { freePort } from "../targets/process/free-port.js";
import { parseCount } from "../common/args.js";
import { UsageError } from "../common/errors.js";
import { benchArgs, fail } from "./lib/args.js";
import { bareClient } from "./lib/bare.js";

const SOURCE = "/usr/sbin/smtp-source";
const SINK = "/usr/sbin/smtp-sink";
const HOST = "127.0.0.1"; // loopback only, always
const SIZE = 1024;
const RCPT = "user@test.example";

interface Pair {
  name: string;
  /** smtp-source flags besides -s/-m/-l */
  sourceFlags: string[];
  sourceHow: string;
  kind: SessionKind;
  stormHow: string;
  /** storm reuses each connection for its share of the messages, as `smtp-source -d` does */
  reuse: boolean;
}

const PAIRS: Record<string, Pair> = {
  "per-connection": { name: "per-connection", sourceFlags: [], sourceHow: "1 msg/conn, no pipelining", kind: "basic", stormHow: "storm basic: 1 msg/conn, no pipelining", reuse: false },
  pipelined: { name: "pipelined", sourceFlags: [], sourceHow: "1 msg/conn, no pipelining", kind: "pipelined", stormHow: "storm pipelined: 1 msg/conn, pipelined: MAIL+RCPT+DATA, then message+QUIT", reuse: false },
  reuse: { name: "reuse", sourceFlags: ["-d"], sourceHow: "-d: reuses C conns, no pipelining", kind: "basic", stormHow: "storm basic, --transactions M/C: reuses C conns, no RSET, no pipelining", reuse: true },
  "reuse-pipelined": { name: "reuse+pipelining", sourceFlags: ["-d"], sourceHow: "-d: reuses C conns, no pipelining", kind: "pipelined", stormHow: "storm pipelined, --transactions M/C: reuses C conns, no RSET, pipelined: message+next MAIL+RCPT+DATA", reuse: true },
};

const USAGE = `usage: node dist/bench/storm-vs-smtp-source.js [--concurrency 10,100,1000] [--messages 20000]
       [--rounds 3] [--pairs ${Object.keys(PAIRS).join(",")}] [--workers N|auto] [--markdown]

storm vs Postfix's smtp-source, both against smtp-sink on loopback, A/B/A/B per concurrency.
--workers: storm's worker threads (default 1); CPU counts every thread of the process.
Needs /usr/sbin/smtp-source and smtp-sink, and 'ulimit -n' above twice the largest concurrency
(npm run bench sets it).`;

const str = (v: string | boolean | undefined, d: string): string => (typeof v === "string" ? v : d);
const { levels, messages, rounds, pairs, markdown, workers } = benchArgs(
  "storm-vs-smtp-source",
  USAGE,
  { concurrency: { type: "string" }, messages: { type: "string" }, rounds: { type: "string" }, pairs: { type: "string" }, markdown: { type: "boolean" }, workers: { type: "string" } },
  (v) => ({
    levels: str(v.concurrency, "10,100,1000")
      .split(",")
      .map((c) => parseCount(c, "--concurrency")),
    messages: parseCount(str(v.messages, "20000"), "--messages"),
    rounds: parseCount(str(v.rounds, "3"), "--rounds"),
    pairs: str(v.pairs, Object.keys(PAIRS).join(","))
      .split(",")
      .map((p) => {
        const pair = PAIRS[p];
        if (pair === undefined) throw new UsageError(`--pairs: unknown pair "${p}" (${Object.keys(PAIRS).join(", ")})`);
        return pair;
      }),
    markdown: v.markdown === true,
    workers: v.workers === "auto" ? os.availableParallelism() : parseCount(str(v.workers, "1"), "--workers"),
  }),
);

class BenchError extends Error {}

for (const bin of [SOURCE, SINK]) if (!existsSync(bin)) fail("storm-vs-smtp-source", `${bin} missing: install postfix (npm run setup:mtas)`);
const need = 2 * Math.max(...levels) + 256;
const limit = fdLimit();
if (limit !== null && limit < need) fail("storm-vs-smtp-source", `fd limit ${limit} < ${need}: run 'ulimit -n ${need}' first (npm run bench does)`);

async function waitListening(port: number, sink: ChildProcess): Promise<void> {
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    if (sink.exitCode !== null) throw new BenchError(`smtp-sink exited with ${sink.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, HOST, () => {
        c.destroy();
        resolve(true);
      });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new BenchError(`smtp-sink not listening on ${HOST}:${port} after 5 s`);
}

interface Run {
  /** accepted messages per second of wall time */
  rate: number;
  /** client CPU (user + system) per message, µs: less sensitive to other load on the machine */
  cpuUs: number;
}

/** Bash's `times` prints the CPU times of the shell's children: here, smtp-source's. */
function childCpuSeconds(timesOutput: string): number {
  const line = timesOutput.trim().split("\n").at(-1) ?? "";
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(line);
  if (m === null) throw new BenchError(`cannot read bash 'times' output: ${JSON.stringify(timesOutput)}`);
  return Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
}

/** smtp-source: wall time from spawn to exit for `messages` messages (it stops at the first error). */
async function runSource(port: number, c: number, pair: Pair): Promise<Run> {
  const args = ["-s", String(c), "-m", String(messages), "-l", String(SIZE), ...pair.sourceFlags, "-M", "client.example", "-f", "storm@client.example", "-t", RCPT, `${HOST}:${port}`];
  const t0 = performance.now();
  const p = spawn("bash", ["-c", '"$0" "$@" >/dev/null; rc=$?; times; exit $rc', SOURCE, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  p.stdout.on("data", (d: Buffer) => (out += d.toString()));
  p.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => p.on("close", (code) => r(code)));
  const secs = (performance.now() - t0) / 1000;
  if (code !== 0) throw new BenchError(`smtp-source ${args.join(" ")} exited ${code}: ${err.trim()}`);
  return { rate: messages / secs, cpuUs: (childCpuSeconds(out) * 1e6) / messages };
}

/** The bare Node.js client in a process of its own: its own wall time and CPU. */
async function runBare(port: number, c: number, pair: Pair): Promise<Run> {
  const perSession = pair.reuse ? Math.ceil(messages / c) : 1;
  const args = ["--port", String(port), "--mode", pair.kind === "pipelined" ? "pipelined" : "basic", "--concurrency", String(c), "--sessions", String(Math.ceil(messages / perSession)), "--transactions", String(perSession), "--size", String(SIZE)];
  const r = await bareClient(args);
  if (r.accepted < messages || r.failed > 0) throw new BenchError(`bare client ${pair.kind} at ${c}: ${r.accepted} of ${messages} accepted, ${r.failed} sessions failed`);
  return { rate: r.accepted / (r.wallMs / 1000), cpuUs: r.cpuUs / r.accepted };
}

async function runStormOnce(port: number, c: number, pair: Pair, seed: number): Promise<Run> {
  const cpu0 = process.cpuUsage();
  const cpuUs = (n: number): number => {
    const u = process.cpuUsage(cpu0);
    return (u.user + u.system) / n;
  };
  // With reuse, each of the C sessions sends its share of the messages, like smtp-source -d.
  const perSession = pair.reuse ? Math.ceil(messages / c) : 1;
  const mix: Mix = {
    ...DEFAULT_MIX,
    weights: { [pair.kind]: 1 },
    size: { min: SIZE, max: SIZE },
    rcpts: { min: 1, max: 1 },
    transactions: { min: perSession, max: perSession },
    starttls: 0,
    implicitTls: 0,
    ipv6: 0,
  };
  const r = await runStorm({
    target: { host: HOST, port, rcpt: RCPT, timeoutMs: 30_000 },
    concurrency: c,
    durationMs: 120_000, // a cap; the session budget ends the run
    maxSessions: Math.ceil(messages / perSession),
    mix,
    seed,
    workers,
  });
  const m = r.metrics;
  if (m.accepted < messages) throw new BenchError(`storm ${pair.kind} at ${c}: ${m.accepted} of ${messages} messages accepted`);
  if (m.count("ok") !== m.sessions) throw new BenchError(`storm ${pair.kind} at ${c}: not every session ok: ${JSON.stringify(Object.fromEntries(m.outcomes))}`);
  return { rate: m.accepted / (r.durationMs / 1000), cpuUs: cpuUs(m.accepted) };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

interface Row {
  pair: Pair;
  c: number;
  source: Run[];
  bare: Run[];
  storm: Run[];
}

interface Sink {
  port: number;
  stop: () => Promise<void>;
}

/**
 * A fresh smtp-sink on a fresh port for every run: tens of thousands of loopback connections
 * per run leave as many TIME_WAIT sockets toward the sink's port, and on a reused port they
 * slow down the next run's connect() (whichever side that run is).
 */
async function startSink(c: number): Promise<Sink> {
  const port = await freePort();
  // -u: smtp-sink refuses to run as root without a user to switch to; -m: its connection cap
  // (default 256) must exceed the concurrency; last argument: the listen backlog.
  const args = [...(process.getuid?.() === 0 ? ["-u", "nobody"] : []), "-m", String(2 * c + 64), `${HOST}:${port}`, "4096"];
  const p = spawn(SINK, args, { stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise<void>((r) => p.once("exit", () => r()));
  try {
    await waitListening(port, p);
  } catch (err) {
    p.kill("SIGKILL");
    throw err;
  }
  return {
    port,
    stop: async () => {
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
      await exited;
    },
  };
}

async function onFreshSink<T>(c: number, run: (port: number) => Promise<T>): Promise<T> {
  const sink = await startSink(c);
  try {
    return await run(sink.port);
  } finally {
    await sink.stop();
  }
}

console.error(`${messages} messages of ${SIZE} bytes per run, ${rounds} rounds A/B, a fresh smtp-sink (${SINK}) per run`);
const rows: Row[] = [];
for (const c of levels) {
  for (const pair of pairs) {
    const row: Row = { pair, c, source: [], bare: [], storm: [] };
    for (let i = 0; i < rounds; i++) {
      row.source.push(await onFreshSink(c, (port) => runSource(port, c, pair)));
      row.bare.push(await onFreshSink(c, (port) => runBare(port, c, pair)));
      row.storm.push(await onFreshSink(c, (port) => runStormOnce(port, c, pair, 1000 + i)));
      const [a, n, b] = [row.source.at(-1) as Run, row.bare.at(-1) as Run, row.storm.at(-1) as Run];
      console.error(`  ${pair.name} c=${c} round ${i + 1}: smtp-source ${a.rate.toFixed(0)} msg/s (${a.cpuUs.toFixed(0)} µs CPU/msg), bare node ${n.rate.toFixed(0)} msg/s (${n.cpuUs.toFixed(0)} µs), storm ${b.rate.toFixed(0)} msg/s (${b.cpuUs.toFixed(0)} µs)`);
    }
    rows.push(row);
  }
}

const rates = (rs: Run[]): number[] => rs.map((r) => r.rate);
const fmt = (rs: Run[]): string => `${median(rates(rs)).toFixed(0)} (${rs.map((r) => r.rate.toFixed(0)).join(", ")})`;
const cpu = (rs: Run[]): string => median(rs.map((r) => r.cpuUs)).toFixed(0);
const ratio = (r: Row): string => `${(median(rates(r.storm)) / median(rates(r.source))).toFixed(2)}x`;
/** storm against the runtime's limit: msg/s and CPU per message, storm / bare */
const vsBare = (r: Row): string => `${(median(rates(r.storm)) / median(rates(r.bare))).toFixed(2)}x / ${(median(r.storm.map((x) => x.cpuUs)) / median(r.bare.map((x) => x.cpuUs))).toFixed(2)}x`;
const machine = `${os.cpus().length} x ${os.cpus()[0]?.model.trim() ?? "?"}, Node ${process.version}, ${os.type()} ${os.release()}`;
if (markdown) {
  console.log(`Machine: ${machine}; load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}. ${messages} messages of ${SIZE} bytes per run; storm on ${workers} worker thread(s); median of ${rounds} alternating runs (each run's msg/s in brackets); CPU = client user+system µs per message (median).\n`);
  console.log("| sessions | pair | smtp-source msg/s | CPU | bare Node msg/s | CPU | storm msg/s | CPU | storm / smtp-source | storm / bare (msg/s, CPU) |");
  console.log("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) console.log(`| ${r.c} | ${r.pair.name} | ${fmt(r.source)} | ${cpu(r.source)} | ${fmt(r.bare)} | ${cpu(r.bare)} | ${fmt(r.storm)} | ${cpu(r.storm)} | ${ratio(r)} | ${vsBare(r)} |`);
} else {
  console.log(`machine: ${machine}`);
  const t = new Table({ head: ["sessions", "pair", "smtp-source msg/s", "µs CPU/msg", "bare node msg/s", "µs CPU/msg", "storm msg/s", "µs CPU/msg", "storm/source", "storm/bare msg/s, CPU"], style: { head: [], border: [], compact: true } });
  for (const r of rows) t.push([r.c, r.pair.name, fmt(r.source), cpu(r.source), fmt(r.bare), cpu(r.bare), fmt(r.storm), cpu(r.storm), ratio(r), vsBare(r)]);
  console.log(t.toString());
}
