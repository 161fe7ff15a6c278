// A flaky next hop: the SMTP server the MTA under test relays to. It defers, greylists, answers
// 421 at the end of DATA or drops the connection, per the plan, and records what arrives by
// X-Smtpchaos-Id, so the run can check the MTA retried and delivered exactly once. With
// lose-250 it keeps a message and drops the connection before its 250 (RFC 1047): the MTA must
// send it again, so that one extra copy is expected, and counted apart.
import { SMTPServer } from "smtp-server";
import type { SMTPServerSession } from "smtp-server";
import { readMessageId } from "../../smtp/index.js";
import type { Injector } from "../injector.js";
import { sleep, type FaultLayer } from "./layer.js";
import { listenLoopback, loopbackAddress } from "../../common/listen.js";

/** What the hop can do; each point names its action (nexthop.defer defers...). */
export const NEXTHOP_POINTS = ["nexthop.defer", "nexthop.greylist", "nexthop.421-data", "nexthop.disconnect", "nexthop.lose-250", "nexthop.delay"] as const;

export interface NextHopOptions {
  injector: Injector | null;
  port?: number;
  /** keep at most this many raw messages (ids and counts are always kept) */
  keepMessages?: number;
}

export interface NextHopStats {
  sessions: number;
  deferred: number;
  greylisted: number;
  dataAborts421: number;
  disconnects: number;
  /** messages kept, then the connection dropped before the 250 */
  lost250: number;
  accepted: number;
}

function smtpError(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

export class FlakyNextHop implements FaultLayer {
  readonly name = "nexthop";
  readonly stats: NextHopStats = { sessions: 0, deferred: 0, greylisted: 0, dataAborts421: 0, disconnects: 0, lost250: 0, accepted: 0 };
  /** X-Smtpchaos-Id -> copies received (kept; null id under "(none)") */
  readonly arrivals = new Map<string, number>();
  /** X-Smtpchaos-Id -> copies kept whose 250 was never sent (lose-250): the MTA owes a resend */
  readonly unacknowledged = new Map<string, number>();
  readonly messages: Buffer[] = [];
  private server: SMTPServer | null = null;
  /** greylisting triplets already seen (sender, recipient) */
  private readonly seen = new Set<string>();

  constructor(private readonly opts: NextHopOptions) {}

  points(): string[] {
    return [...NEXTHOP_POINTS];
  }

  address(): { host: string; port: number } | null {
    return loopbackAddress(this.server?.server);
  }

  /**
   * Copies of each id that count as deliveries: a copy kept without a 250 (lose-250) is excused
   * when the MTA sent the message again, as it must; an id that arrived only unacknowledged
   * still counts once (it did arrive).
   */
  counted(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, n] of this.arrivals) out.set(id, Math.max(1, n - (this.unacknowledged.get(id) ?? 0)));
    return out;
  }

  /** Resends the MTA made after a lost 250 (expected, not duplicates). */
  resentAfterLost250(): number {
    let n = 0;
    for (const [id, copies] of this.arrivals) n += Math.min(this.unacknowledged.get(id) ?? 0, copies - 1);
    return n;
  }

  /** Ids that arrived more than once beyond the resends a lost 250 called for. */
  duplicates(): Array<{ id: string; copies: number }> {
    return [...this.counted()].filter(([, n]) => n > 1).map(([id, copies]) => ({ id, copies }));
  }

  private drop(session: SMTPServerSession): void {
    for (const conn of this.server?.connections ?? []) if (conn.id === session.id) conn._socket.destroy();
  }

  async start(): Promise<void> {
    const inj = this.opts.injector;
    const server = new SMTPServer({
      logger: false,
      authOptional: true,
      disabledCommands: ["AUTH", "STARTTLS"],
      onConnect: (_session, cb) => {
        this.stats.sessions++;
        cb();
      },
      onRcptTo: (address, session, cb) => {
        void (async () => {
          const delay = inj?.decide("nexthop.delay", { phase: "rcpt" }) ?? null;
          if (delay !== null) await sleep(delay.delayMs);
          if (inj?.decide("nexthop.defer", { phase: "rcpt" })) {
            this.stats.deferred++;
            return cb(smtpError(451, "4.3.0 smtpchaos next hop: try again later"));
          }
          const triplet = `${session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address}>${address.address}`;
          if (!this.seen.has(triplet) && inj?.decide("nexthop.greylist", { phase: "rcpt" })) {
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
          if (inj?.decide("nexthop.disconnect", { phase: "dot" })) {
            this.stats.disconnects++;
            this.drop(session);
            return;
          }
          if (inj?.decide("nexthop.421-data", { phase: "dot" })) {
            this.stats.dataAborts421++;
            // smtp-server closes the connection after a 421
            return cb(smtpError(421, "4.3.2 smtpchaos next hop: shutting down"));
          }
          const raw = Buffer.concat(chunks);
          const id = readMessageId(raw) ?? "(none)";
          this.arrivals.set(id, (this.arrivals.get(id) ?? 0) + 1);
          if (this.messages.length < (this.opts.keepMessages ?? 1000)) this.messages.push(raw);
          if (inj?.decide("nexthop.lose-250", { phase: "dot" })) {
            this.stats.lost250++;
            this.unacknowledged.set(id, (this.unacknowledged.get(id) ?? 0) + 1);
            this.drop(session);
            return;
          }
          this.stats.accepted++;
          cb();
        });
      },
    });
    server.on("error", () => {});
    this.server = server;
    await listenLoopback(server.server, this.opts.port ?? 0);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    for (const conn of server.connections) conn._socket.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}
