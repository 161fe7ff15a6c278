// The runtime's limit, for the benches: the dialogue of storm's `basic`, `pipelined` and `hold`
// kinds in as little Node.js as it takes (node:net, a reply splitter, async/await; no engine, no
// transcripts, no observers, no reply accounting), in a process of its own so its CPU and memory
// are its alone. It prints one JSON line: what it did and what it cost.
// usage: node dist/bench/bare-client.js --port P --mode basic|pipelined|hold --concurrency C
//        --sessions N [--transactions T] [--size BYTES] [--ramp D --hold D]
import net from "node:net";
import { parseCount, parseDurationFlag } from "../common/args.js";
import { UsageError } from "../common/errors.js";
import { benchArgs } from "./lib/args.js";

const HOST = "127.0.0.1"; // loopback only, always
const MAX_LINE = 64 * 1024;
const USAGE = `usage: node dist/bench/bare-client.js --port P --mode basic|pipelined|hold --concurrency C
       --sessions N [--transactions T] [--size BYTES] [--ramp D --hold D] [--timeout D]

The runtime's limit for the benches: storm's basic, pipelined or hold dialogue against 127.0.0.1:P
with node:net and nothing else; prints one JSON line (accepted, wall time, CPU, peak RSS).`;
const str = (v: string | boolean | undefined, d: string): string => (typeof v === "string" ? v : d);
const { port, mode, concurrency, sessions, transactions, size, rampMs, holdMs, timeoutMs } = benchArgs(
  "bare-client",
  USAGE,
  { port: { type: "string" }, mode: { type: "string" }, concurrency: { type: "string" }, sessions: { type: "string" }, transactions: { type: "string" }, size: { type: "string" }, ramp: { type: "string" }, hold: { type: "string" }, timeout: { type: "string" } },
  (v) => {
    const m = str(v.mode, "basic");
    if (m !== "basic" && m !== "pipelined" && m !== "hold") throw new UsageError(`--mode: basic, pipelined or hold, got "${m}"`);
    return {
      port: parseCount(str(v.port, ""), "--port"),
      mode: m,
      concurrency: parseCount(str(v.concurrency, "10"), "--concurrency"),
      sessions: parseCount(str(v.sessions, "100"), "--sessions"),
      transactions: parseCount(str(v.transactions, "1"), "--transactions"),
      size: parseCount(str(v.size, "1024"), "--size"),
      rampMs: v.ramp === undefined ? 0 : parseDurationFlag(str(v.ramp, ""), "--ramp"),
      holdMs: v.hold === undefined ? 0 : parseDurationFlag(str(v.hold, ""), "--hold"),
      timeoutMs: parseDurationFlag(str(v.timeout, "60s"), "--timeout"),
    };
  },
);

const BODY = `From: <bare@client.example>\r\nTo: <user@test.example>\r\nSubject: bare\r\n\r\n${"x".repeat(78)}\r\n`.padEnd(size, "y") + "\r\n.\r\n";
const ENVELOPE = "MAIL FROM:<bare@client.example>\r\nRCPT TO:<user@test.example>\r\nDATA\r\n";

/** Replies of one connection, in order: the code of each final line. */
class Replies {
  private buf = "";
  private readonly codes: number[] = [];
  private waiter: { resolve: (code: number) => void; reject: (err: Error) => void } | null = null;
  private failed: Error | null = null;

  constructor(readonly socket: net.Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf("\n"); i >= 0; i = this.buf.indexOf("\n")) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (line[3] !== "-") this.push(Number(line.slice(0, 3)));
      }
      // a peer that never ends a line is not an SMTP server: bounded like the wire layer's reader
      if (this.buf.length > MAX_LINE) socket.destroy(new Error(`a reply line over ${MAX_LINE} bytes`));
    });
    const fail = (err: Error): void => {
      this.failed ??= err;
      this.waiter?.reject(err);
      this.waiter = null;
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("closed")));
    socket.setTimeout(timeoutMs, () => {
      fail(new Error("timeout"));
      socket.destroy();
    });
  }

  private push(code: number): void {
    if (this.waiter !== null) {
      this.waiter.resolve(code);
      this.waiter = null;
    } else this.codes.push(code);
  }

  next(): Promise<number> {
    const code = this.codes.shift();
    if (code !== undefined) return Promise.resolve(code);
    if (this.failed !== null) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  async expect(klass: number): Promise<void> {
    const code = await this.next();
    if (Math.floor(code / 100) !== klass) throw new Error(`got ${code}, expected ${klass}xx`);
  }
}

let accepted = 0;
let ok = 0;
let failed = 0;
let holding = 0;
let maxHolding = 0;

async function session(): Promise<void> {
  const socket = net.connect(port, HOST);
  const r = new Replies(socket);
  try {
    await r.expect(2);
    socket.write("EHLO bare.client.example\r\n");
    await r.expect(2);
    if (mode === "hold") {
      holding++;
      maxHolding = Math.max(maxHolding, holding);
      await new Promise((res) => setTimeout(res, holdMs));
      holding--;
    } else if (mode === "basic") {
      for (let t = 0; t < transactions; t++) {
        socket.write("MAIL FROM:<bare@client.example>\r\n");
        await r.expect(2);
        socket.write("RCPT TO:<user@test.example>\r\n");
        await r.expect(2);
        socket.write("DATA\r\n");
        await r.expect(3);
        socket.write(BODY);
        await r.expect(2);
        accepted++;
      }
    } else {
      // pipelined: the envelope in one write, then the message with the next envelope
      socket.write(ENVELOPE);
      for (let t = 0; t < transactions; t++) {
        await r.expect(2);
        await r.expect(2);
        await r.expect(3);
        socket.write(t + 1 < transactions ? BODY + ENVELOPE : BODY);
        await r.expect(2);
        accepted++;
      }
    }
    socket.write("QUIT\r\n");
    await r.expect(2);
    ok++;
  } catch {
    failed++;
  } finally {
    socket.destroy();
  }
}

let peakRss = process.memoryUsage().rss;
const baseRss = peakRss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
if (mode === "hold") {
  // a ramp: session i starts at i * ramp / N, as storm's stages do
  const all: Array<Promise<void>> = [];
  for (let i = 0; i < sessions; i++) {
    const at = t0 + (i * rampMs) / sessions;
    const wait = at - performance.now();
    if (wait > 1) await new Promise((res) => setTimeout(res, wait));
    all.push(session());
  }
  await Promise.all(all);
} else {
  // closed loop: C connections at a time until N sessions ran
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < sessions) {
      started++;
      await session();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}
const wallMs = performance.now() - t0;
clearInterval(sampler);
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ mode, sessions, ok, failed, accepted, maxHolding, wallMs, cpuUs: cpu.user + cpu.system, peakRss, baseRss }));
