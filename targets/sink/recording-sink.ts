// The toolkit's own next hop: an SMTP server on loopback that accepts mail for any recipient and
// records every arrival by X-Smtpchaos-Id, in memory and (when given a directory) as a Maildir a
// person can read and the Maildir readers count. A relay, a filter or a submission server under
// test delivers here, so "delivered" means "arrived at the next hop". With a fault decider it
// defers, greylists, answers 421 at the end of DATA, drops the connection or loses its 250
// (RFC 1047: the message is kept, the MTA must send it again; that copy is expected).
import { UserError } from "../../common/errors.js";
import { mkdtempSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMTPServer } from "smtp-server";
import type { SMTPServerSession } from "smtp-server";
import { readMessageId } from "../../smtp/message.js";
import { listenLoopback, loopbackAddress } from "../../common/listen.js";

/** What a sink can be made to do; each point names its action (nexthop.defer defers...). */
export const NEXTHOP_POINTS = ["nexthop.defer", "nexthop.greylist", "nexthop.421-data", "nexthop.disconnect", "nexthop.lose-250", "nexthop.delay"] as const;

/** Asked before each reply (the monkey's injector fits): null = no fault here. */
export interface SinkFaults {
  decide(point: string, ctx: { phase: "rcpt" | "dot" }): { delayMs: number } | null;
}

/** The sink could not take its port (in use, not allowed): a usage error of whoever chose the port. */
export class SinkListenError extends UserError {}

export interface SinkOptions {
  faults?: SinkFaults | null;
  port?: number;
  /** write each arrival into this Maildir (new/), with a Return-Path header as a delivering MTA would */
  maildir?: string;
  /** the greeting's host name */
  hostname?: string;
}

export interface SinkStats {
  sessions: number;
  deferred: number;
  greylisted: number;
  dataAborts421: number;
  disconnects: number;
  /** messages kept, then the connection dropped before the 250 */
  lost250: number;
  accepted: number;
}

/** A received message is bounded only by what the MTA sends; the sink refuses beyond this (552). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

function smtpError(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class RecordingSink {
  readonly stats: SinkStats = { sessions: 0, deferred: 0, greylisted: 0, dataAborts421: 0, disconnects: 0, lost250: 0, accepted: 0 };
  /** X-Smtpchaos-Id -> copies received (kept; null id under "(none)") */
  readonly arrivals = new Map<string, number>();
  /** X-Smtpchaos-Id -> copies kept whose 250 was never sent (lose-250): the MTA owes a resend */
  readonly unacknowledged = new Map<string, number>();
  private server: SMTPServer | null = null;
  /** greylisting triplets already seen (sender, recipient) */
  private readonly seen = new Set<string>();
  private serial = 0;

  /** a directory made for the Maildir (withTemporaryMaildir), removed at stop */
  private tempDir: string | null = null;

  constructor(protected readonly opts: SinkOptions = {}) {}

  /** A sink whose Maildir lives in a fresh temporary directory that stop() removes (`--sink PORT` of a server the user runs). */
  static withTemporaryMaildir(opts: Omit<SinkOptions, "maildir"> = {}): RecordingSink {
    const dir = mkdtempSync(join(tmpdir(), "smtpchaos-sink-"));
    const sink = new RecordingSink({ ...opts, maildir: join(dir, "Maildir") });
    sink.tempDir = dir;
    return sink;
  }

  /** Faults from now on (the monkey attaches its injector to a target's own sink). */
  setFaults(faults: SinkFaults | null): void {
    this.opts.faults = faults;
  }

  address(): { host: string; port: number } | null {
    return loopbackAddress(this.server?.server);
  }

  get maildir(): string | null {
    return this.opts.maildir ?? null;
  }

  /** Copies kept and copies whose 250 was lost, per delivery: one message to one recipient (id, recipient). */
  private readonly deliveries = new Map<string, { id: string; copies: number; lost: number }>();

  /** A lost-250 copy is excused when the MTA sent it again, as it must: the copies that count, per delivery. */
  private static counts(d: { copies: number; lost: number }): number {
    return Math.max(1, d.copies - d.lost);
  }

  /**
   * Copies of each id that count as deliveries (one per recipient): a copy kept without a 250
   * (lose-250) is excused when the MTA sent the message again, as it must; a delivery that
   * arrived only unacknowledged still counts once (it did arrive).
   */
  counted(): Map<string, number> {
    const out = new Map<string, number>();
    for (const d of this.deliveries.values()) out.set(d.id, (out.get(d.id) ?? 0) + RecordingSink.counts(d));
    return out;
  }

  /** The ids a list of arrivals (read back from the Maildir) holds once the excused resends are taken out. */
  excuseResends(ids: Array<string | null>): Array<string | null> {
    const left = new Map<string, number>();
    for (const d of this.deliveries.values()) if (d.lost > 0) left.set(d.id, (left.get(d.id) ?? 0) + Math.min(d.lost, d.copies - 1));
    if (left.size === 0) return ids;
    return ids.filter((id) => {
      const n = id === null ? 0 : (left.get(id) ?? 0);
      if (n <= 0) return true;
      left.set(id as string, n - 1);
      return false;
    });
  }

  /** Resends the MTA made after a lost 250 (expected, not duplicates). */
  resentAfterLost250(): number {
    let n = 0;
    for (const d of this.deliveries.values()) n += Math.min(d.lost, d.copies - 1);
    return n;
  }

  /** Deliveries (a message to one recipient) that arrived more than once beyond the resends a lost 250 called for. */
  duplicates(): Array<{ id: string; copies: number }> {
    return [...this.deliveries.values()].filter((d) => RecordingSink.counts(d) > 1).map((d) => ({ id: d.id, copies: RecordingSink.counts(d) }));
  }

  /** One transaction's arrival: a copy for each recipient; `lost250` when its 250 is about to be lost. */
  private record(id: string, rcpts: readonly string[], lost250: boolean): void {
    for (const rcpt of rcpts) {
      const key = `${id}\n${rcpt.toLowerCase()}`;
      const d = this.deliveries.get(key) ?? { id, copies: 0, lost: 0 };
      d.copies++;
      if (lost250) d.lost++;
      this.deliveries.set(key, d);
    }
    this.arrivals.set(id, (this.arrivals.get(id) ?? 0) + rcpts.length);
    if (lost250) this.unacknowledged.set(id, (this.unacknowledged.get(id) ?? 0) + rcpts.length);
  }

  private drop(session: SMTPServerSession): void {
    for (const conn of this.server?.connections ?? []) if (conn.id === session.id) conn._socket.destroy();
  }

  /** One file per recipient, as a local delivery agent writes one per mailbox: a message to two recipients is two deliveries. */
  private async store(raw: Buffer, from: string, rcpts: readonly string[]): Promise<void> {
    const dir = this.opts.maildir;
    if (dir === undefined) return;
    for (const rcpt of rcpts) {
      const name = `${Date.now()}.sink${process.pid}_${++this.serial}.smtpchaos`;
      await writeFile(join(dir, "tmp", name), Buffer.concat([Buffer.from(`Return-Path: <${from}>\r\nDelivered-To: ${rcpt}\r\n`), raw]));
      await rename(join(dir, "tmp", name), join(dir, "new", name));
    }
  }

  async start(): Promise<void> {
    if (this.opts.maildir !== undefined) for (const sub of ["tmp", "new", "cur"]) await mkdir(join(this.opts.maildir, sub), { recursive: true });
    const decide = (point: string, phase: "rcpt" | "dot"): { delayMs: number } | null => this.opts.faults?.decide(point, { phase }) ?? null;
    const server = new SMTPServer({
      logger: false,
      authOptional: true,
      disabledCommands: ["AUTH", "STARTTLS"],
      size: MAX_MESSAGE_BYTES,
      ...(this.opts.hostname !== undefined ? { name: this.opts.hostname } : {}),
      onConnect: (_session, cb) => {
        this.stats.sessions++;
        cb();
      },
      onRcptTo: (address, session, cb) => {
        void (async () => {
          const delay = decide("nexthop.delay", "rcpt");
          if (delay !== null) await sleep(delay.delayMs);
          if (decide("nexthop.defer", "rcpt") !== null) {
            this.stats.deferred++;
            return cb(smtpError(451, "4.3.0 smtpchaos next hop: try again later"));
          }
          const triplet = `${session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address}>${address.address}`;
          if (!this.seen.has(triplet) && decide("nexthop.greylist", "rcpt") !== null) {
            this.seen.add(triplet);
            this.stats.greylisted++;
            return cb(smtpError(450, "4.7.1 smtpchaos next hop: greylisted, come back later"));
          }
          this.seen.add(triplet);
          cb();
        })();
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          void (async () => {
            if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded === true) return cb(smtpError(552, "5.3.4 smtpchaos next hop: message too big"));
            if (decide("nexthop.disconnect", "dot") !== null) {
              this.stats.disconnects++;
              this.drop(session);
              return;
            }
            if (decide("nexthop.421-data", "dot") !== null) {
              this.stats.dataAborts421++;
              // smtp-server closes the connection after a 421
              return cb(smtpError(421, "4.3.2 smtpchaos next hop: shutting down"));
            }
            const raw = Buffer.concat(chunks);
            const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address;
            const rcpts = session.envelope.rcptTo.map((r) => r.address);
            try {
              await this.store(raw, from, rcpts);
            } catch (err) {
              // a sink that cannot record must not acknowledge: the MTA keeps the message
              return cb(smtpError(451, `4.3.0 smtpchaos next hop: cannot record the message: ${(err as Error).message}`));
            }
            const id = readMessageId(raw) ?? "(none)";
            const lose = decide("nexthop.lose-250", "dot") !== null;
            this.record(id, rcpts, lose);
            if (lose) {
              this.stats.lost250++;
              this.drop(session);
              return;
            }
            this.stats.accepted++;
            cb();
          })();
        });
      },
    });
    // a peer's reset is its business; the sink's own failures surface as replies
    server.on("error", () => {});
    try {
      await listenLoopback(server.server, this.opts.port ?? 0);
    } catch (err) {
      throw new SinkListenError(`the sink cannot listen on 127.0.0.1:${this.opts.port ?? 0}: ${(err as Error).message}`);
    }
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server !== null) {
      for (const conn of server.connections) conn._socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
    if (this.tempDir !== null) await rm(this.tempDir, { recursive: true, force: true });
    this.tempDir = null;
  }
}
