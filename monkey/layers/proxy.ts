// An SMTP-aware TCP proxy between clients and the MTA, on loopback. It follows the session
// (commands from the client, replies parsed with smtp/ from the server) so network faults land
// on SMTP phases: latency and throttling per connection, writes split at CRLF.CRLF, a stall
// before the final dot, a reset after the dot before the 250 reaches the client.
import { listenLoopback, loopbackAddress } from "../../common/listen.js";
import net from "node:net";
import { LineReader, ReplyParser } from "../../smtp/index.js";
import type { Decision, Injector } from "../injector.js";
import type { SmtpPhase } from "../plan.js";
import { EndOfDataScanner } from "./end-of-data.js";
import { isLoopback, sleep, type FaultLayer } from "./layer.js";

/** What the proxy can do; each point names its action (net.stall stalls...). */
export const NET_POINTS = ["net.latency", "net.throttle", "net.split", "net.stall", "net.reset"] as const;

type Op = { kind: "write"; data: Buffer; notBefore: number } | { kind: "pause"; ms: number } | { kind: "reset" };

/** Sequential writer of one direction: keeps order under delays, honours backpressure. */
class Pump {
  private ops: Op[] = [];
  private running = false;
  private idle: Array<() => void> = [];
  constructor(
    private readonly dest: net.Socket,
    private readonly bytesPerSec: number | null,
    private readonly onReset: () => void,
  ) {}

  push(op: Op): void {
    this.ops.push(op);
    if (!this.running) void this.run();
  }

  /** Resolves once everything queued so far was written. */
  drained(): Promise<void> {
    return this.running ? new Promise((r) => this.idle.push(r)) : Promise.resolve();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      for (let op = this.ops.shift(); op !== undefined; op = this.ops.shift()) {
        if (this.dest.destroyed) {
          this.ops = [];
          break;
        }
        if (op.kind === "pause") await sleep(op.ms);
        else if (op.kind === "reset") this.onReset();
        else {
          const wait = op.notBefore - Date.now();
          if (wait > 0) await sleep(wait);
          await this.write(op.data);
        }
      }
    } finally {
      this.running = false;
      for (const r of this.idle.splice(0)) r();
    }
  }

  private async write(data: Buffer): Promise<void> {
    if (this.bytesPerSec === null) {
      if (!this.dest.write(data)) await new Promise<void>((r) => this.dest.once("drain", () => r()));
      return;
    }
    const slice = Math.max(1, Math.min(1024, Math.floor(this.bytesPerSec / 10)));
    for (let off = 0; off < data.length && !this.dest.destroyed; off += slice) {
      const part = data.subarray(off, off + slice);
      this.dest.write(part);
      await sleep((part.length / this.bytesPerSec) * 1000);
    }
  }
}

export interface ProxyOptions {
  upstream: { host: string; port: number };
  injector: Injector | null;
  port?: number;
  /** gap between the pieces of a split write, so they leave as separate segments */
  splitGapMs?: number;
}

export interface ProxyStats {
  connections: number;
  stalls: number;
  resets: number;
  splits: number;
}

class ProxyConnection {
  private phase: SmtpPhase = "connect";
  private body = false;
  private awaiting354 = 0;
  private cmdTail = "";
  private readonly scanner = new EndOfDataScanner();
  private readonly lines = new LineReader();
  private readonly parser = new ReplyParser();
  private parseBroken = false;
  private resetArmed = false;
  private readonly latency: Decision | null;
  private readonly split: Decision | null;
  /** the client's source port: faults are attributed to its session */
  private readonly conn: number | undefined;
  private readonly c2s: Pump;
  private readonly s2c: Pump;

  constructor(
    private readonly client: net.Socket,
    private readonly upstream: net.Socket,
    private readonly injector: Injector | null,
    private readonly stats: ProxyStats,
    private readonly splitGapMs: number,
  ) {
    this.conn = client.remotePort;
    const decide = (p: string): Decision | null => injector?.decide(p, { phase: "connect", conn: this.conn }) ?? null;
    this.latency = decide("net.latency");
    const throttle = decide("net.throttle");
    this.split = decide("net.split");
    const bps = throttle?.bytesPerSec ?? null;
    this.c2s = new Pump(upstream, bps, () => this.doReset());
    this.s2c = new Pump(client, bps, () => this.doReset());
    client.on("data", (c: Buffer) => this.fromClient(c));
    upstream.on("data", (c: Buffer) => this.fromServer(c));
    client.on("end", () => void this.c2s.drained().then(() => upstream.end()));
    upstream.on("end", () => void this.s2c.drained().then(() => client.end()));
    const kill = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", kill);
    upstream.on("error", kill);
    client.on("close", () => void this.c2s.drained().then(() => upstream.end()));
    upstream.on("close", () => void this.s2c.drained().then(() => client.destroy()));
  }

  private delay(): number {
    return Date.now() + (this.latency?.delayMs ?? 0);
  }

  private doReset(): void {
    this.stats.resets++;
    this.client.resetAndDestroy();
    this.upstream.destroy();
  }

  private fromServer(chunk: Buffer): void {
    let dropAndReset = false;
    if (!this.parseBroken) {
      try {
        for (const line of this.lines.push(chunk)) {
          const reply = this.parser.push(line);
          if (reply === null) continue;
          if (this.resetArmed) {
            // the reply to the final dot: the client must never see it
            this.resetArmed = false;
            dropAndReset = true;
            break;
          }
          if (reply.code === 354 && this.awaiting354 > 0) {
            this.awaiting354--;
            this.body = true;
            this.phase = "body";
            this.scanner.reset();
          } else if (this.awaiting354 > 0 && reply.code >= 400 && this.phase === "data") {
            this.awaiting354--;
          }
        }
      } catch {
        // a malformed reply is the oracle's business: forward it untouched and stop following
        this.parseBroken = true;
      }
    }
    if (dropAndReset) {
      this.s2c.push({ kind: "reset" });
      return;
    }
    this.s2c.push({ kind: "write", data: chunk, notBefore: this.delay() });
  }

  private fromClient(chunk: Buffer): void {
    let rest: Buffer = chunk;
    while (rest.length > 0) {
      if (!this.body) {
        this.trackCommands(rest);
        this.c2s.push({ kind: "write", data: rest, notBefore: this.delay() });
        return;
      }
      const r = this.scanner.push(rest);
      const notBefore = this.delay();
      if (!r.found) {
        if (r.body.length > 0) this.c2s.push({ kind: "write", data: r.body, notBefore });
        return;
      }
      this.body = false;
      const stall = this.injector?.decide("net.stall", { phase: "body", conn: this.conn }) ?? null;
      const reset = this.injector?.decide("net.reset", { phase: "dot", conn: this.conn }) ?? null;
      if (r.body.length > 0) this.c2s.push({ kind: "write", data: r.body, notBefore });
      if (stall !== null) {
        this.stats.stalls++;
        this.c2s.push({ kind: "pause", ms: stall.durationMs ?? 0 });
      }
      if (this.split !== null) {
        this.stats.splits++;
        // the marker straddles three segments: ...CRLF | . | CRLF
        this.c2s.push({ kind: "pause", ms: this.splitGapMs });
        this.c2s.push({ kind: "write", data: r.dot.subarray(0, 1), notBefore });
        this.c2s.push({ kind: "pause", ms: this.splitGapMs });
        this.c2s.push({ kind: "write", data: r.dot.subarray(1), notBefore });
      } else {
        this.c2s.push({ kind: "write", data: r.dot, notBefore });
      }
      this.phase = "dot";
      if (reset !== null) this.resetArmed = true;
      rest = r.rest;
    }
  }

  private trackCommands(data: Buffer): void {
    this.cmdTail += data.toString("latin1");
    let nl: number;
    while ((nl = this.cmdTail.indexOf("\n")) >= 0) {
      const verb = this.cmdTail.slice(0, nl).trim().split(/\s+/)[0]?.toUpperCase() ?? "";
      this.cmdTail = this.cmdTail.slice(nl + 1);
      if (verb === "EHLO" || verb === "HELO" || verb === "LHLO") this.phase = "ehlo";
      else if (verb === "MAIL") this.phase = "mail";
      else if (verb === "RCPT") this.phase = "rcpt";
      else if (verb === "DATA") {
        this.phase = "data";
        this.awaiting354++;
      } else if (verb === "QUIT") this.phase = "quit";
    }
    if (this.cmdTail.length > 4096) this.cmdTail = this.cmdTail.slice(-4096);
  }
}

export class SmtpProxy implements FaultLayer {
  readonly name = "proxy";
  readonly stats: ProxyStats = { connections: 0, stalls: 0, resets: 0, splits: 0 };
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  /** client source port -> our source port towards the server, for recent connections */
  private readonly pairs = new Map<number, number>();

  constructor(private readonly opts: ProxyOptions) {
    if (!isLoopback(opts.upstream.host)) throw new Error(`proxy: upstream ${opts.upstream.host} is not loopback`);
  }

  points(): string[] {
    return [...NET_POINTS];
  }

  address(): { host: string; port: number } | null {
    return loopbackAddress(this.server);
  }

  async start(): Promise<void> {
    const server = net.createServer({ pauseOnConnect: true }, (client) => this.accept(client));
    this.server = server;
    await listenLoopback(server, this.opts.port ?? 0);
  }

  private accept(client: net.Socket): void {
    this.stats.connections++;
    const upstream = net.connect(this.opts.upstream.port, this.opts.upstream.host);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      s.setNoDelay(true);
    }
    upstream.once("connect", () => {
      if (client.remotePort !== undefined && upstream.localPort !== undefined) {
        this.pairs.set(client.remotePort, upstream.localPort);
        if (this.pairs.size > 20_000) this.pairs.delete(this.pairs.keys().next().value as number);
      }
      new ProxyConnection(client, upstream, this.opts.injector, this.stats, this.opts.splitGapMs ?? 15);
      client.resume();
    });
    upstream.once("error", () => client.destroy());
    client.once("error", () => upstream.destroy());
  }

  /** The port the server saw for the client that came from `clientPort` (recent connections only). */
  upstreamPortOf(clientPort: number): number | undefined {
    return this.pairs.get(clientPort);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server !== null) await new Promise<void>((r) => server.close(() => r()));
  }
}
