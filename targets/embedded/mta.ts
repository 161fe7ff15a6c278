// The embedded MTA: a small, honest store-and-forward server on smtp-server. It says 250 after
// the final dot only once the message is durably in its spool, delivers from the spool to
// Maildirs (or relays to a next hop), and answers internal trouble with 4xx, never 5xx.
import { SMTPServer } from "smtp-server";
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from "smtp-server";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Spool } from "./spool.js";
import type { Envelope } from "./spool.js";
import { Maildir } from "./maildir.js";
import { NO_FAULTS, InjectedFault } from "./fault-points.js";
import type { FaultPoints, FaultPointName } from "./fault-points.js";
import { PreparedMessage, runSmtpSession } from "../../smtp/index.js";
import { isNoIpv6, LOOPBACK4, LOOPBACK6 } from "../process/ipv6.js";
import { SENDER_DOMAIN } from "../target.js";
import { buildBounce } from "./bounce.js";

export interface EmbeddedMtaOptions {
  /** everything the MTA writes lives below this directory */
  dir: string;
  hostname?: string;
  /** domain delivered locally */
  domain?: string;
  /** local parts that exist in `domain` */
  users?: string[];
  /**
   * a domain delivered locally with every local part into one Maildir (bounces/Maildir): the
   * toolkit's senders (default SENDER_DOMAIN), so that bounces of their mail are observable;
   * null: none. RCPT still refuses it: only the MTA's own bounces go there.
   */
  senderDomain?: string | null;
  /** domains relayed to `nextHop` */
  relayDomains?: string[];
  nextHop?: { host: string; port: number };
  /** 0 = any free port */
  port?: number;
  /** also listen with implicit TLS (0 = any free port) */
  tlsPort?: number | null;
  /**
   * false: listen on 127.0.0.1 only. By default every port is also listened on at ::1 (same
   * number, same MTA) when the machine has IPv6 loopback, and on 127.0.0.1 only when it has not.
   */
  ipv6?: boolean;
  maxMessageBytes?: number;
  /** accept AUTH PLAIN/LOGIN (after STARTTLS only, as a real MTA would) with these credentials */
  auth?: { user: string; password: string };
  /** retry delays for deliveries that failed temporarily, ms */
  retryDelaysMs?: number[];
  faults?: FaultPoints;
  /** keep accepted mail in the queue until flush() (like a held queue) */
  hold?: boolean;
  log?: (line: string) => void;
}

type RcptSession = SMTPServerSession & { envelope: { rcptTo: SMTPServerAddress[]; mailFrom: SMTPServerAddress | false } };

/** 4xx replies; a transient internal problem must never turn into a 5xx. */
function tempfail(code: 421 | 451 | 452, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(text), { responseCode: code });
}

function permfail(code: 501 | 535 | 550 | 552 | 553 | 554, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(text), { responseCode: code });
}

// RFC 5321 4.1.2 Mailbox, simplified: dot-atom or quoted local part, domain or address literal.
const MAILBOX = /^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*|"(?:[^"\\\r\n]|\\.)*")@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[^\]\s]+\])$/;

/** grace period for open sessions on stop, then 421 */
const CLOSE_TIMEOUT_MS = 1000;

export class EmbeddedMta {
  readonly hostname: string;
  readonly domain: string;
  readonly users: ReadonlySet<string>;
  private faults: FaultPoints;
  private readonly spool: Spool;
  private readonly maildirs = new Map<string, Maildir>();
  /** where mail to senderDomain goes (null: it is not local) */
  private readonly senders: { domain: string; box: Maildir } | null;
  private servers: SMTPServer[] = [];
  /** the ::1 listeners: plain net servers whose connections the SMTPServer of the same port takes */
  private servers6: net.Server[] = [];
  private ports: { port: number; tlsPort: number | null; host6: string | null } | null = null;
  private runner: NodeJS.Timeout | null = null;
  private running = false;
  private wake = false;
  private readonly retryAt = new Map<string, { attempts: number; at: number }>();
  private readonly log: (line: string) => void;
  /** sessions currently open, to close them on stop */
  private readonly delivering = new Set<Promise<void>>();

  constructor(private readonly opts: EmbeddedMtaOptions) {
    this.hostname = opts.hostname ?? "mx.test.example";
    this.domain = (opts.domain ?? "test.example").toLowerCase();
    this.users = new Set((opts.users ?? ["user", "postmaster"]).map((u) => u.toLowerCase()));
    this.faults = opts.faults ?? NO_FAULTS;
    this.log = opts.log ?? (() => {});
    this.spool = new Spool(join(opts.dir, "spool"), () => this.faults);
    for (const u of this.users) this.maildirs.set(u, new Maildir(join(opts.dir, "mail", u, "Maildir")));
    const senderDomain = opts.senderDomain === undefined ? SENDER_DOMAIN : opts.senderDomain;
    this.senders = senderDomain === null ? null : { domain: senderDomain.toLowerCase(), box: new Maildir(sendersMaildir(opts.dir)) };
  }

  get mailboxes(): string[] {
    return [...this.users].map((u) => `${u}@${this.domain}`);
  }

  get endpoint(): { host: string; port: number; tlsPort: number | null; host6: string | null } {
    if (this.ports === null) throw new Error("embedded MTA is not started");
    return { host: LOOPBACK4, ...this.ports };
  }

  setFaults(faults: FaultPoints | null): void {
    this.faults = faults ?? NO_FAULTS;
  }

  async start(): Promise<void> {
    await this.spool.init();
    for (const m of this.maildirs.values()) await m.init();
    await this.senders?.box.init();
    this.v6 = this.opts.ipv6 !== false;
    try {
      const port = await this.listen(false, this.opts.port ?? 0);
      const tlsPort = this.opts.tlsPort === null || this.opts.tlsPort === undefined ? null : await this.listen(true, this.opts.tlsPort);
      this.ports = { port, tlsPort, host6: this.v6 ? LOOPBACK6 : null };
    } catch (err) {
      await this.closeServers();
      throw err;
    }
    this.running = true;
    const on = this.v6 ? `${LOOPBACK4} and [${LOOPBACK6}]` : LOOPBACK4;
    this.log(`embedded MTA ${this.hostname} listening on ${on} port ${this.ports.port}${this.ports.tlsPort !== null ? `, implicit TLS on ${this.ports.tlsPort}` : ""}`);
    this.scheduleRun(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.runner !== null) clearTimeout(this.runner);
    this.runner = null;
    await this.closeServers();
    await Promise.all([...this.delivering]);
    this.log("embedded MTA stopped");
  }

  /** Retry everything queued now, ignoring backoff. */
  flush(): void {
    this.retryAt.clear();
    this.scheduleRun(0, true);
  }

  async queueSize(): Promise<number> {
    return (await this.spool.list()).length;
  }

  /**
   * Stops accepting on every address and ends the sessions of both families the way smtp-server
   * ends its own: a grace period of closeTimeout, then 421 and close. The library runs that timer
   * only while its own (127.0.0.1) listener has sockets and cancels it once that one is idle, so
   * sessions that came in over ::1 (still in its connection set) are seen to here. The ::1 net
   * servers' close callbacks are not awaited: like the library's own, they would wait for
   * clients that never close their side.
   */
  private async closeServers(): Promise<void> {
    const servers = this.servers;
    const had6 = this.servers6.length > 0;
    for (const s of this.servers6) s.close();
    this.servers6 = [];
    this.servers = [];
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    if (!had6) return;
    const deadline = Date.now() + CLOSE_TIMEOUT_MS;
    while (servers.some((s) => s.connections.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    for (const s of servers) {
      for (const c of s.connections) {
        c.send(421, "Server shutting down");
        c.close();
      }
    }
  }

  /** whether this start listens on ::1 too (cleared when the machine turns out to have no ::1) */
  private v6 = true;

  /**
   * Listens on 127.0.0.1:port and, with IPv6, on ::1 at the same port. A port the kernel picked
   * (0) may be taken on ::1 by somebody else: then both are given up and another one is picked.
   */
  private async listen(secure: boolean, port: number): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const server = this.createServer(secure);
      this.servers.push(server);
      const got = await listenOn(server.server, port, LOOPBACK4);
      if (!this.v6) return got;
      // smtp-server takes its connections in the listener it gave net.createServer: a second
      // net.Server handing its sockets to that same listener makes one MTA with one session set
      // (server.connections: maxClients and close() cover both families).
      const accept = server.server.listeners("connection")[0] as ((socket: net.Socket) => void) | undefined;
      if (accept === undefined) throw new Error("smtp-server has no connection listener to share with the ::1 listener");
      const v6 = net.createServer(accept);
      v6.on("error", (err) => this.log(`smtp server error on [${LOOPBACK6}]:${got}: ${err.message}`));
      try {
        await listenOn(v6, got, LOOPBACK6);
        this.servers6.push(v6);
        return got;
      } catch (err) {
        if (isNoIpv6(err)) {
          this.v6 = false;
          this.log(`no IPv6 loopback on this machine (${(err as NodeJS.ErrnoException).code}): listening on ${LOOPBACK4} only`);
          return got;
        }
        this.servers = this.servers.filter((s) => s !== server);
        await new Promise<void>((r) => server.close(() => r()));
        if ((err as NodeJS.ErrnoException).code === "EADDRINUSE" && port === 0 && attempt < 10) continue;
        throw new Error(`cannot listen on [${LOOPBACK6}]:${got}: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  private createServer(secure: boolean): SMTPServer {
    const server = new SMTPServer({
      secure,
      name: this.hostname,
      banner: "smtpchaos embedded MTA",
      size: this.opts.maxMessageBytes ?? 10 * 1024 * 1024,
      authOptional: true,
      ...(this.opts.auth === undefined ? { disabledCommands: ["AUTH"] } : {}),
      onAuth: (auth, _session, cb) => {
        const a = this.opts.auth;
        if (a !== undefined && auth.username === a.user && auth.password === a.password) cb(null, { user: auth.username });
        else cb(permfail(535, "5.7.8 Authentication credentials invalid"));
      },
      disableReverseLookup: true,
      logger: false,
      closeTimeout: CLOSE_TIMEOUT_MS,
      socketTimeout: 60_000,
      onMailFrom: (address, _session, cb) => this.onMailFrom(address).then(() => cb(), cb),
      onRcptTo: (address, session, cb) => this.onRcptTo(address, session as RcptSession).then(() => cb(), cb),
      onData: (stream, session, cb) =>
        this.onData(stream, session as RcptSession).then(
          (msg) => cb(null, msg),
          (err: Error) => cb(err),
        ),
    });
    server.on("error", (err) => this.log(`smtp server error: ${err.message}`));
    return server;
  }

  /** The mail domain, and `localhost` as a default MTA configuration has it (OpenSMTPD's regress scripts mail user@localhost). */
  private isLocalDomain(domain: string): boolean {
    return domain === this.domain || domain === "localhost";
  }

  private async onMailFrom(address: SMTPServerAddress): Promise<void> {
    if (address.address !== "" && !MAILBOX.test(address.address)) throw permfail(553, "5.1.7 Bad sender address syntax");
  }

  private async onRcptTo(address: SMTPServerAddress, session: RcptSession): Promise<void> {
    const rcpt = address.address;
    if (!MAILBOX.test(rcpt)) throw permfail(553, "5.1.3 Bad recipient address syntax");
    if (session.envelope.rcptTo.length >= 100) throw tempfail(452, "4.5.3 Too many recipients");
    const at = rcpt.lastIndexOf("@");
    const local = rcpt.slice(0, at).toLowerCase();
    const domain = rcpt.slice(at + 1).toLowerCase();
    await this.guard("lookup.domains", { phase: "RCPT", address: rcpt, clientPort: session.remotePort }, "4.3.0 Temporary lookup failure");
    if (!this.isLocalDomain(domain)) {
      if ((this.opts.relayDomains ?? []).includes(domain) && this.opts.nextHop !== undefined) return;
      throw permfail(554, `5.7.1 <${rcpt}>: Relay access denied`);
    }
    await this.guard("lookup.recipients", { phase: "RCPT", address: rcpt, clientPort: session.remotePort }, "4.3.0 Temporary lookup failure");
    if (!this.users.has(local)) throw permfail(550, `5.1.1 <${rcpt}>: Recipient address rejected: User unknown`);
  }

  private async onData(stream: SMTPServerDataStream, session: RcptSession): Promise<string> {
    const chunks: Buffer[] = [];
    let failure: Error | null = null;
    try {
      await this.faults.check("alloc", { phase: "DATA", clientPort: session.remotePort });
    } catch (err) {
      failure = this.internal(err, "alloc", "4.3.0 Error: insufficient system resources");
    }
    for await (const c of stream) if (failure === null) chunks.push(c as Buffer);
    if (failure !== null) throw failure;
    if (stream.sizeExceeded) throw permfail(552, "5.3.4 Error: message exceeds fixed maximum message size");
    const env: Envelope = {
      id: this.spool.newId(),
      from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
      recipients: session.envelope.rcptTo.map((r) => ({ address: r.address, done: false })),
      receivedAt: new Date().toISOString(),
    };
    const received = `Received: from ${session.hostNameAppearsAs ?? "unknown"} ([${session.remoteAddress}])\r\n\tby ${this.hostname} (smtpchaos embedded) with ${session.transmissionType} id ${env.id};\r\n\t${new Date().toUTCString()}\r\n`;
    try {
      await this.spool.put(env, Buffer.concat([Buffer.from(received), ...chunks]), session.remotePort);
    } catch (err) {
      // Not acknowledged, so nothing is lost: the client keeps the message and retries.
      throw this.internal(err, "queue", "4.3.0 Error: queue file write error");
    }
    this.log(`${env.id}: queued from=<${env.from}> nrcpt=${env.recipients.length}`);
    this.scheduleRun(0);
    return `2.0.0 Ok: queued as ${env.id}`;
  }

  private async guard(point: FaultPointName, ctx: Parameters<FaultPoints["check"]>[1], text: string): Promise<void> {
    try {
      await this.faults.check(point, ctx);
    } catch (err) {
      throw this.internal(err, point, text);
    }
  }

  private internal(err: unknown, where: string, text: string): Error {
    this.log(`${where}: ${err instanceof Error ? err.message : String(err)} -> 451 ${text}`);
    return tempfail(451, text);
  }

  private scheduleRun(delayMs: number, force = false): void {
    if (!this.running || (this.opts.hold === true && !force)) return;
    if (this.runner !== null) {
      this.wake = true;
      return;
    }
    this.runner = setTimeout(() => {
      const p = this.runQueue()
        .catch((err: unknown) => this.log(`queue runner: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => {
          this.delivering.delete(p);
          this.runner = null;
          const again = this.wake;
          this.wake = false;
          const next = this.nextRetryIn();
          if (again) this.scheduleRun(0);
          else if (next !== null) this.scheduleRun(next);
        });
      this.delivering.add(p);
    }, delayMs);
  }

  private nextRetryIn(): number | null {
    let min: number | null = null;
    for (const r of this.retryAt.values()) min = min === null ? r.at : Math.min(min, r.at);
    return min === null ? null : Math.max(0, min - Date.now());
  }

  private async runQueue(): Promise<void> {
    for (const id of await this.spool.list()) {
      if (!this.running) return;
      const retry = this.retryAt.get(id);
      if (retry !== undefined && retry.at > Date.now()) continue;
      try {
        await this.deliverOne(id);
        this.retryAt.delete(id);
      } catch (err) {
        const attempts = (retry?.attempts ?? 0) + 1;
        const delays = this.opts.retryDelaysMs ?? [1000, 5000, 30_000, 120_000];
        const delay = delays[Math.min(attempts - 1, delays.length - 1)] ?? 60_000;
        this.retryAt.set(id, { attempts, at: Date.now() + delay });
        this.log(`${id}: deferred (attempt ${attempts}, retry in ${delay} ms): ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  private async deliverOne(id: string): Promise<void> {
    const { env, data } = await this.spool.read(id);
    const relay: Array<{ address: string; index: number }> = [];
    const failed: string[] = [];
    for (const [index, r] of env.recipients.entries()) {
      if (r.done) continue;
      const at = r.address.lastIndexOf("@");
      const domain = r.address.slice(at + 1).toLowerCase();
      const box = this.senders !== null && domain === this.senders.domain ? this.senders.box : this.isLocalDomain(domain) ? this.maildirs.get(r.address.slice(0, at).toLowerCase()) : null;
      if (box === null && (this.opts.relayDomains ?? []).includes(domain) && this.opts.nextHop !== undefined) {
        relay.push({ address: r.address, index });
        continue;
      }
      if (box === undefined || box === null) {
        // Accepted earlier but gone now (tables changed), or a bounce with nowhere to go.
        if (env.from === "") this.log(`${id}: <${r.address}> undeliverable bounce, dropped`);
        else failed.push(r.address);
      } else {
        await this.faults.check("deliver.write", { phase: "delivery", queueId: id, address: r.address });
        const fresh = await box.deliver(id, index, data);
        this.log(`${id}: to=<${r.address}> status=sent (${fresh ? "delivered to maildir" : "already delivered"})`);
        r.done = true;
        await this.spool.update(env);
      }
    }
    if (failed.length > 0) {
      // The bounce is queued before the recipients are marked done: a crash in between bounces twice, never not at all.
      const dsn: Envelope = { id: this.spool.newId(), from: "", recipients: [{ address: env.from, done: false }], receivedAt: new Date().toISOString() };
      await this.spool.put(dsn, buildBounce({ hostname: this.hostname, queueId: id, sender: env.from, failed, reason: "5.1.1 no such user here", original: data }));
      this.log(`${id}: to=<${failed.join(">,<")}> status=bounced (no such user here): bounce ${dsn.id}`);
      for (const r of env.recipients) if (failed.includes(r.address)) r.done = true;
      await this.spool.update(env);
      this.scheduleRun(0);
    }
    if (relay.length > 0) {
      await this.relay(env, data, relay.map((r) => r.address));
      for (const r of relay) (env.recipients[r.index] as { done: boolean }).done = true;
    }
    await this.spool.remove(id);
  }

  private async relay(env: Envelope, data: Buffer, rcpts: string[]): Promise<void> {
    const hop = this.opts.nextHop;
    if (hop === undefined) throw new Error("no next hop configured");
    await this.faults.check("relay.connect", { phase: "relay", queueId: env.id });
    // What went wrong first, to say why the relay failed (the spool retries it later).
    let problem: string | null = null;
    const r = await runSmtpSession({
      host: hop.host,
      port: hop.port,
      timeoutMs: 30_000,
      helo: this.hostname,
      transcript: null,
      quitAfterRefusal: true,
      observer: {
        refused: (step, reply) => void (problem ??= `answered ${reply.code} ${reply.text} to ${step === "dot" ? "end of data" : step.toUpperCase()}`),
        failed: (_step, err) => void (problem ??= err.message),
      },
      transactions: 1,
      transaction: () => ({ from: env.from, to: rcpts, message: () => new PreparedMessage(data) }),
    });
    if (r.outcome !== "ok") throw new Error(`next hop ${hop.host}:${hop.port} ${problem ?? r.outcome}`);
    this.log(`${env.id}: relayed to ${hop.host}:${hop.port} for ${rcpts.length} recipient(s)`);
  }
}

/** Where mail to the senders' domain is delivered. */
export function sendersMaildir(dir: string): string {
  return join(dir, "bounces", "Maildir");
}

/** Resolves with the port once listening; rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL...). */
function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => reject(err);
    server.once("error", fail);
    server.listen(port, host, () => {
      server.off("error", fail);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export { InjectedFault };
