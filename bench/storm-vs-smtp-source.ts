// storm vs Postfix's smtp-source, both against Postfix's smtp-sink on loopback, in one run:
// for each concurrency, pairs of runs alternate A/B/A/B (so drift in machine load hits both
// sides alike) and the medians are compared. Each pair is like-for-like on connection reuse;
// whether a side pipelines is printed with it (smtp-source never pipelines).
// usage: node dist/bench/storm-vs-smtp-source.js [--concurrency 10,100,1000] [--messages 20000]
//        [--rounds 2] [--pairs per-connection,pipelined,reuse] [--markdown]
// Needs `ulimit -n` above twice the largest concurrency (npm run bench raises it).
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { parseArgs } from "node:util";
import Table from "cli-table3";
import { runStorm } from "../storm/scheduler.js";
import type { Mix, SessionKind } from "../storm/plan.js";
import { fdLimit } from "../storm/limits.js";

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
  /** messages per storm session (multi draws 2..4 transactions, mean 3) */
  perSession: number;
}

const PAIRS: Record<string, Pair> = {
  "per-connection": { name: "per-connection", sourceFlags: [], sourceHow: "1 msg/conn, no pipelining", kind: "basic", stormHow: "basic: 1 msg/conn, no pipelining", perSession: 1 },
  pipelined: { name: "pipelined", sourceFlags: [], sourceHow: "1 msg/conn, no pipelining", kind: "pipelined", stormHow: "pipelined: 1 msg/conn, MAIL+RCPT+DATA pipelined", perSession: 1 },
  reuse: { name: "reuse", sourceFlags: ["-d"], sourceHow: "-d: all msgs on C conns, no pipelining", kind: "multi", stormHow: "multi: 2-4 msgs/conn + RSET, no pipelining", perSession: 3 },
};

const { values } = parseArgs({
  options: {
    concurrency: { type: "string", default: "10,100,1000" },
    messages: { type: "string", default: "20000" },
    rounds: { type: "string", default: "2" },
    pairs: { type: "string", default: Object.keys(PAIRS).join(",") },
    markdown: { type: "boolean", default: false },
  },
});
const levels = (values.concurrency as string).split(",").map(Number);
const messages = Number(values.messages);
const rounds = Number(values.rounds);
const pairs = (values.pairs as string).split(",").map((p) => {
  const pair = PAIRS[p];
  if (pair === undefined) throw new Error(`unknown pair "${p}" (${Object.keys(PAIRS).join(", ")})`);
  return pair;
});

class BenchError extends Error {}

for (const bin of [SOURCE, SINK]) if (!existsSync(bin)) throw new BenchError(`${bin} missing: install postfix (npm run setup:mtas)`);
const need = 2 * Math.max(...levels) + 256;
const limit = fdLimit();
if (limit !== null && limit < need) throw new BenchError(`fd limit ${limit} < ${need}: run 'ulimit -n ${need}' first (npm run bench does)`);

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, HOST, r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

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

/** smtp-source's rate: wall time from spawn to exit for `messages` messages (it stops at the first error). */
async function runSource(port: number, c: number, pair: Pair): Promise<number> {
  const args = ["-s", String(c), "-m", String(messages), "-l", String(SIZE), ...pair.sourceFlags, "-M", "client.example", "-f", "storm@client.example", "-t", RCPT, `${HOST}:${port}`];
  const t0 = performance.now();
  const p = spawn(SOURCE, args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  p.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => p.on("exit", (code) => r(code)));
  const secs = (performance.now() - t0) / 1000;
  if (code !== 0) throw new BenchError(`smtp-source ${args.join(" ")} exited ${code}: ${err.trim()}`);
  return messages / secs;
}

async function runStormOnce(port: number, c: number, pair: Pair, seed: number): Promise<number> {
  const mix: Mix = { weights: { [pair.kind]: 1 }, size: { min: SIZE, max: SIZE }, rcpts: { min: 1, max: 1 }, starttls: 0 };
  const r = await runStorm({
    target: { host: HOST, port, rcpt: RCPT, timeoutMs: 30_000 },
    concurrency: c,
    durationMs: 120_000, // a cap; the session budget ends the run
    maxSessions: Math.ceil(messages / pair.perSession),
    mix,
    seed,
  });
  const m = r.metrics;
  if (m.count("ok") !== m.sessions) throw new BenchError(`storm ${pair.kind} at ${c}: not every session ok: ${JSON.stringify(Object.fromEntries(m.outcomes))}`);
  return m.accepted / (r.durationMs / 1000);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

interface Row {
  pair: Pair;
  c: number;
  source: number[];
  storm: number[];
}

const port = await freePort();
// -u: smtp-sink refuses to run as root without a user to switch to; -m: its connection cap
// (default 256) must exceed the largest concurrency; last argument: the listen backlog.
const sinkArgs = [...(process.getuid?.() === 0 ? ["-u", "nobody"] : []), "-m", String(2 * Math.max(...levels) + 64), `${HOST}:${port}`, "4096"];
const sink = spawn(SINK, sinkArgs, { stdio: ["ignore", "ignore", "inherit"] });
const rows: Row[] = [];
try {
  await waitListening(port, sink);
  console.error(`smtp-sink ${sinkArgs.join(" ")} (pid ${sink.pid}); ${messages} messages of ${SIZE} bytes per run, ${rounds} rounds A/B`);
  for (const c of levels) {
    for (const pair of pairs) {
      const row: Row = { pair, c, source: [], storm: [] };
      for (let i = 0; i < rounds; i++) {
        row.source.push(await runSource(port, c, pair));
        row.storm.push(await runStormOnce(port, c, pair, 1000 + i));
        console.error(`  ${pair.name} c=${c} round ${i + 1}: smtp-source ${row.source.at(-1)?.toFixed(0)} msg/s, storm ${row.storm.at(-1)?.toFixed(0)} msg/s`);
      }
      rows.push(row);
    }
  }
} finally {
  sink.kill("SIGTERM");
}

const fmt = (xs: number[]): string => `${median(xs).toFixed(0)} (${xs.map((x) => x.toFixed(0)).join(", ")})`;
const ratio = (r: Row): string => `${(median(r.storm) / median(r.source)).toFixed(2)}x`;
const machine = `${os.cpus().length} x ${os.cpus()[0]?.model.trim() ?? "?"}, Node ${process.version}, ${os.type()} ${os.release()}`;
if (values.markdown === true) {
  console.log(`Machine: ${machine}. ${messages} messages of ${SIZE} bytes per run; median of ${rounds} alternating runs (each run's msg/s in brackets).\n`);
  console.log("| sessions | pair | smtp-source | msg/s | storm | msg/s | storm / smtp-source |");
  console.log("|---:|---|---|---:|---|---:|---:|");
  for (const r of rows) console.log(`| ${r.c} | ${r.pair.name} | ${r.pair.sourceHow} | ${fmt(r.source)} | ${r.pair.stormHow} | ${fmt(r.storm)} | ${ratio(r)} |`);
} else {
  console.log(`machine: ${machine}`);
  const t = new Table({ head: ["sessions", "pair", "smtp-source msg/s", "storm msg/s", "ratio", "smtp-source does", "storm does"], style: { head: [], border: [], compact: true } });
  for (const r of rows) t.push([r.c, r.pair.name, fmt(r.source), fmt(r.storm), ratio(r), r.pair.sourceHow, r.pair.stormHow]);
  console.log(t.toString());
}
