// How many idle SMTP sessions one storm process holds, and at what memory: ramps up N "hold"
// sessions (connect, banner, EHLO, idle, QUIT) against Postfix's smtp-sink on loopback and
// reports the peak number held at once and the peak RSS of this process; first the same with
// a bare Node.js client (bench/bare-client.ts, a process of its own): the runtime's limit.
// usage: npm run bench:held [-- --counts 1000,10000 --ramp 5s --hold 20s]
// The fd limit must allow it: `ulimit -n 65536` (or the hard limit) in the shell first; the npm
// script does that.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { SmtpSession } from "../smtp/index.js";
import { parseCount, parseDurationFlag } from "../common/args.js";
import { benchArgs, fail } from "./lib/args.js";
import { freePort } from "../targets/process/free-port.js";
import { validateMix } from "../storm/plan.js";
import { runStorm } from "../storm/scheduler.js";
import { fdLimit } from "../storm/limits.js";
import { bareClient } from "./lib/bare.js";

const SINK = "/usr/sbin/smtp-sink";

const USAGE = `usage: node dist/bench/held-sessions.js [--counts N,N...] [--ramp D] [--hold D]

How many idle SMTP sessions one storm process holds and at what memory, against Postfix's
smtp-sink on loopback. --counts (default 1000,10000) session counts to try; --ramp (default 5s)
time to open them; --hold (default 20s) how long each stays open after the ramp.
Needs /usr/sbin/smtp-sink and 'ulimit -n' above the largest count (npm run bench:held sets it).`;

const str = (v: string | boolean | undefined, d: string): string => (typeof v === "string" ? v : d);
const { counts, rampMs, holdMs } = benchArgs("held-sessions", USAGE, { counts: { type: "string" }, ramp: { type: "string" }, hold: { type: "string" } }, (v) => ({
  counts: str(v.counts, "1000,10000")
    .split(",")
    .map((c) => parseCount(c, "--counts")),
  rampMs: parseDurationFlag(str(v.ramp, "5s"), "--ramp"),
  holdMs: parseDurationFlag(str(v.hold, "20s"), "--hold"),
}));
const biggest = Math.max(...counts);
const limit = fdLimit();
if (limit !== null && limit < biggest + 64) fail("held-sessions", `${biggest} sessions need about ${biggest + 64} file descriptors, the limit is ${limit}: run 'ulimit -n ${biggest + 1024}' first (npm run bench:held does)`);
if (!existsSync(SINK)) fail("held-sessions", `${SINK} is missing (apt-get install postfix)`);

const port = await freePort();
// -m: concurrent sessions smtp-sink serves (default 256); -t: its idle timeout, s; backlog last.
const sink = spawn(SINK, ["-m", String(biggest + 100), "-t", "300", "-u", "nobody", `127.0.0.1:${port}`, String(Math.min(biggest, 65535))], { stdio: ["ignore", "ignore", "pipe"] });
let sinkErr = "";
sink.stderr.on("data", (d: Buffer) => (sinkErr += d.toString()));
const stopSink = (): void => {
  if (sink.exitCode === null && sink.signalCode === null && sink.pid !== undefined) {
    try {
      process.kill(sink.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
};
process.on("exit", stopSink);

try {
  await waitForBanner(port);
  console.log(`smtp-sink (pid ${sink.pid}) on 127.0.0.1:${port}; fd limit ${limit ?? "unlimited"}; node ${process.version}`);
  console.log("| client | sessions | held at once | ok | failed | ramp | connect+banner+EHLO p99 / max | peak RSS | RSS per held session |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MiB`;
  for (const n of counts) {
    const bare = await bareClient(["--port", String(port), "--mode", "hold", "--sessions", String(n), "--ramp", `${rampMs}ms`, "--hold", `${rampMs + holdMs}ms`]);
    console.log(`| bare node | ${n} | ${bare.maxHolding} | ${bare.ok} | ${bare.failed} | ${(rampMs / 1000).toFixed(0)} s | - | ${mb(bare.peakRss)} | ${((bare.peakRss - bare.baseRss) / Math.max(1, bare.maxHolding) / 1024).toFixed(1)} KiB |`);
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
    // Each session holds long enough to still be open when the last one of the ramp arrives.
    const mix = validateMix({ weights: { hold: 1 }, hold: { min: rampMs + holdMs, max: rampMs + holdMs } });
    const r = await runStorm({
      target: { host: "127.0.0.1", port, rcpt: "user@test.example", timeoutMs: 60_000 },
      // Arrivals as the bare client makes them: session i due at i * ramp / n, started however
      // late its tick comes (open loop), so both sides start every session.
      model: "open",
      rate: n / (rampMs / 1000),
      durationMs: rampMs,
      maxInFlight: n,
      mix,
      seed: 1,
      maxSessions: n,
    });
    clearInterval(sampler);
    const m = r.metrics;
    const failed = m.sessions - m.count("ok");
    const setup = (q: number): string => (["connect", "banner", "ehlo"] as const).map((ph) => ((q === 1 ? (m.phases.get(ph)?.max ?? 0) : (m.phases.get(ph)?.quantile(q) ?? 0)) / 1000).toFixed(0)).join("+");
    console.log(`| storm | ${n} | ${m.maxHolding} | ${m.count("ok")} | ${failed}${failed > 0 ? ` (${[...m.outcomes].filter(([, c]) => c > 0).map(([o, c]) => `${o} ${c}`).join(", ")})` : ""} | ${(rampMs / 1000).toFixed(0)} s | ${setup(0.99)} / ${setup(1)} ms | ${mb(peak)} | ${((peak - base) / Math.max(1, m.maxHolding) / 1024).toFixed(1)} KiB |`);
  }
} finally {
  stopSink();
  if (sinkErr.trim() !== "") console.error(`smtp-sink said: ${sinkErr.trim().split("\n").slice(-5).join(" | ")}`);
}

async function waitForBanner(p: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const s = await SmtpSession.connect({ host: "127.0.0.1", port: p, timeoutMs: 1000, transcript: null });
      await s.readReply();
      await s.quit();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`smtp-sink did not answer on 127.0.0.1:${p}: ${(err as Error).message}; stderr: ${sinkErr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
