// The flood: a bounded, continuous flow of varied but valid mail through the transaction
// engine. By default each session is one transaction of a drawn shape; with a storm mix (handed
// over by the CLI layer as a Traffic) every storm kind flows: TLS, IPv6, pipelining, large,
// many recipients, aborts. Each transaction becomes a SessionRecord for the oracle and a ledger
// entry; only sessions with findings keep a transcript tail, so hours-long runs stay bounded.
import { PreparedMessage, RESET_ERRORS, SmtpConnectError, Transcript, buildMessage, runSmtpSession } from "../smtp/index.js";
import type { MailSource, Reply, SessionResult, Step, StepObserver, Traffic, TrafficContext, TrafficSession, Transaction , SmtpError} from "../smtp/index.js";
import type { Ledger } from "./ledger.js";
import { judge, OutcomeTally, type JudgeOptions, type SessionRecord, type StepName, type StepResult, type Verdict } from "./oracle.js";
import { Rng, type Seed } from "../common/rng.js";
import { SENDER_DOMAIN } from "../targets/target.js";

export interface MailSpec {
  from: string;
  to: string[];
  size: number;
  /** a body with lines that start with a dot, to exercise transparency */
  dotLines: boolean;
}

export interface TransactionOptions {
  host: string;
  port: number;
  mail: MailSpec;
  ledger: Ledger;
  timeoutMs: number;
  /** how long to wait for the close after a 421 */
  closeWaitMs?: number;
  helo?: string;
}

export interface TransactionResult {
  record: Omit<SessionRecord, "faults">;
  transcript: Transcript;
}

const HELO = SENDER_DOMAIN;

/** Engine steps as the oracle names them: TLS belongs to the greeting, an RSET to the next envelope. */
const STEP: Record<Step, StepName | null> = { connect: "connect", banner: "banner", ehlo: "ehlo", tls: "ehlo", mail: "mail", rcpt: "rcpt", data: "data", dot: "dot", rset: "mail", quit: "quit", command: null, garbage: null };

function stepError(step: StepName, err: SmtpError): StepResult {
  // A connection accepted and then reset before Node saw it complete fails the connect itself.
  const reset = "reset" in err ? Boolean((err as { reset: unknown }).reset) : err instanceof SmtpConnectError && RESET_ERRORS.has(err.code) ? true : undefined;
  return { step, error: { kind: err.kind, message: err.message, ...(reset !== undefined ? { reset } : {}) } };
}

function bodyFor(mail: MailSpec, rng: Rng): string | undefined {
  if (!mail.dotLines) return undefined;
  const lines = ["Hello,", ".a line that starts with a dot", "..two dots", ".", "bye"];
  return lines.map((l) => (rng.next() < 0.5 ? l : l.toUpperCase())).join("\r\n") + "\r\n";
}

/**
 * Watches one session for the oracle: its steps, split into one record per transaction (the
 * greeting goes with the first, the QUIT with the last), and the ledger's view of each message.
 */
class SessionRecorder implements StepObserver {
  readonly records: Array<Omit<SessionRecord, "faults">> = [];
  private current: Omit<SessionRecord, "faults">;
  /** the final dot went out and nothing answered it yet (an abort after the dot) */
  private dotPending = false;
  /** our source port: exact attribution for faults that know their connection */
  private clientPort: number | undefined;

  constructor(
    private readonly ledger: Ledger,
    private readonly transports?: Map<string, number>,
  ) {
    this.current = { startedAt: Date.now(), endedAt: 0, messageId: null, steps: [] };
  }

  /** A ledger id for the current transaction's message: drawn only once the server said 354. */
  messageFor(copies: number): string {
    const id = this.ledger.newId(copies);
    this.current.messageId = id;
    return id;
  }

  begin(tx: number): void {
    if (tx === 0) return;
    this.close();
    this.current = { startedAt: Date.now(), endedAt: 0, messageId: null, steps: [] };
  }

  reply(step: Step, r: Reply): void {
    // our own protocol violation refused: the server may close now (RFC 5321 7.8)
    if (step === "garbage" && r.code >= 500) this.current.refusedViolation = true;
    const name = STEP[step];
    if (name === null) return;
    if (name === "dot") this.dotPending = false;
    this.current.steps.push({ step: name, reply: { code: r.code, text: r.text } });
  }

  refused(step: Step, r: Reply, expected: string): void {
    const name = STEP[step];
    // A 2xx/3xx that is not the one the step needs (250 to DATA): the server broke the protocol.
    if (name !== null && r.code < 400) this.current.steps.push({ step: name, reply: { code: r.code, text: r.text }, error: { kind: "protocol", message: `${r.code} to ${name.toUpperCase()}, expected ${expected}: ${r.text}` } });
  }

  failed(step: Step, err: SmtpError): void {
    this.dotPending = false;
    this.current.steps.push(stepError(STEP[step] ?? "mail", err));
  }

  transport(what: string): void {
    if (this.transports !== undefined) this.transports.set(what, (this.transports.get(what) ?? 0) + 1);
  }

  dot(): void {
    if (this.current.messageId !== null) this.ledger.dotSent(this.current.messageId);
    this.dotPending = true;
  }

  connected(port: number | undefined): void {
    this.clientPort = port;
  }

  /** The session is over: the last record gets how it ended. */
  finish(r: Pick<SessionResult, "after421">): Array<Omit<SessionRecord, "faults">> {
    this.close();
    const last = this.records[this.records.length - 1];
    if (last !== undefined && r.after421 !== undefined) last.after421 = r.after421;
    for (const rec of this.records) if (this.clientPort !== undefined) rec.clientPort = this.clientPort;
    return this.records;
  }

  private close(): void {
    // Written and never answered: whether it was taken is unknown (ambiguous, at most once).
    if (this.dotPending) this.current.steps.push({ step: "dot" });
    this.dotPending = false;
    this.current.endedAt = Date.now();
    this.records.push(this.current);
  }
}

/** Bytes left for headers and dot-stuffing under a SIZE limit. */
const HEADER_ROOM = 8 * 1024;

/** Ledger-backed mail: each message carries its own id, recipients are distinct mailboxes where there are enough. */
function ledgerMail(rec: SessionRecorder, from: string, pick: (n: number) => string[], body: (size: number) => string | undefined): MailSource {
  return {
    transaction(_i, rcpts, drawn, how = {}): Transaction {
      const to = pick(rcpts);
      // The flood sends only mail the server said it takes: under its SIZE, headers included.
      const size = how.maxSize !== undefined && how.maxSize !== null && how.maxSize > 0 ? Math.min(drawn, Math.max(0, how.maxSize - HEADER_ROOM)) : drawn;
      const copies = new Set(to.map((a) => a.toLowerCase())).size;
      return {
        from,
        to,
        ...(how.abort !== undefined ? { abort: how.abort } : {}),
        message: () => {
          const id = rec.messageFor(copies);
          if (how.streamed === true) return { head: buildMessage({ from, to, id, size: 0 }).data, size };
          const b = body(size);
          return new PreparedMessage(buildMessage({ from, to, id, ...(b !== undefined ? { body: b } : { size }) }).data);
        },
      };
    },
  };
}

/** The flood's own session: one transaction of the shape `mail` says, one command at a time. */
function oneTransaction(mail: MailSpec): TrafficSession {
  return {
    kind: "transaction",
    run: (ctx) => runSmtpSession({ ...ctx.client, transactions: 1, transaction: (i) => ctx.mail.transaction(i, mail.to.length, mail.size) }),
  };
}

interface RunOptions {
  helo?: string;
  /** counts how sessions connected (plain, starttls, implicit-tls, ipv4, ipv6, ...) */
  transports?: Map<string, number>;
  host: string;
  port: number;
  endpoints: TrafficContext["endpoints"];
  ledger: Ledger;
  timeoutMs: number;
  closeWaitMs?: number;
  from: string;
  pick: (n: number) => string[];
  body: (size: number) => string | undefined;
}

/** Runs one session of any kind and returns its transactions as oracle records. Never throws for SMTP failures. */
async function runObserved(session: TrafficSession, o: RunOptions): Promise<{ records: Array<Omit<SessionRecord, "faults">>; transcript: Transcript; result: SessionResult }> {
  const transcript = new Transcript({ maxEntries: 64, headEntries: 8 });
  const rec = new SessionRecorder(o.ledger, o.transports);
  const result = await session.run({
    client: { host: o.host, port: o.port, timeoutMs: o.timeoutMs, helo: o.helo ?? HELO, transcript, observer: rec, ...ENDING, ...(o.closeWaitMs !== undefined ? { closeWaitAfter421Ms: o.closeWaitMs } : {}) },
    endpoints: o.endpoints,
    mail: ledgerMail(rec, o.from, o.pick, o.body),
  });
  return { records: rec.finish(result), transcript, result };
}

/** How the monkey ends a refused session: QUIT after a 4xx/5xx, and after a 421 it waits for the close the RFC requires. */
const ENDING = { quitAfterRefusal: true, closeWaitAfter421Ms: 2000 };

/** One SMTP transaction: banner, EHLO, MAIL, RCPT..., DATA, message, QUIT. Never throws for SMTP failures. */
export async function runTransaction(opts: TransactionOptions, rng: Rng = new Rng(0, "tx")): Promise<TransactionResult> {
  const { records, transcript } = await runObserved(oneTransaction(opts.mail), {
    ...(opts.helo !== undefined ? { helo: opts.helo } : {}),
    host: opts.host,
    port: opts.port,
    endpoints: {},
    ledger: opts.ledger,
    timeoutMs: opts.timeoutMs,
    closeWaitMs: opts.closeWaitMs ?? ENDING.closeWaitAfter421Ms,
    from: opts.mail.from,
    pick: () => opts.mail.to,
    body: () => bodyFor(opts.mail, rng),
  });
  return { record: records[0] as Omit<SessionRecord, "faults">, transcript };
}

export interface FloodOptions {
  host: string;
  port: number;
  /** valid local recipients of the target */
  mailboxes: readonly string[];
  ledger: Ledger;
  seed: Seed;
  concurrency: number;
  /** stop starting sessions after this many ms */
  durationMs: number;
  /** hard cap on sessions, whatever the duration */
  maxSessions?: number;
  timeoutMs?: number;
  /**
   * Fault points that fired during [from, to] (ms since epoch) and may have hit the session from
   * clientPort; selfInflicted: those that paused or killed the very process serving it.
   */
  faultsDuring?: (from: number, to: number, clientPort: number | undefined) => { faults: string[]; selfInflicted?: string[] };
  /**
   * Judge each session this long after it ended: firings decided inside the target reach the
   * injector up to a second late, and are charged by their own times (0: at once).
   */
  judgeDelayMs?: number;
  judgeOptions?: () => JudgeOptions;
  onSession?: (rec: SessionRecord, v: Verdict) => void;
  /** pause between sessions of one worker, ms */
  pacingMs?: number;
  /** stop when no connection succeeded for this long (a dead server is a verdict, not a load to keep sending) */
  giveUpAfterMs?: number;
  /** sessions from elsewhere (a storm mix); by default one transaction of a drawn shape per session */
  traffic?: Traffic;
  /** the server's implicit-TLS and IPv6 listeners, for traffic that wants them */
  endpoints?: TrafficContext["endpoints"];
}

export interface FloodResult {
  sessions: number;
  tally: OutcomeTally;
  interrupted: boolean;
  /** why the flood stopped before its time, when it did */
  gaveUp: string | null;
}

/** Backoff between connection attempts of one worker while the server is unreachable. */
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 2_000;

export class Flood {
  readonly tally = new OutcomeTally();
  /** how sessions connected: "ipv4", "ipv6", "plain", "starttls", "implicit-tls" and "...-unavailable" fallbacks */
  readonly transports = new Map<string, number>();
  sessions = 0;
  private stopped = false;
  private gaveUp: string | null = null;
  /** when the current run of failed connects began (null while connects succeed) */
  private unreachableSince: number | null = null;
  private readonly mix: Rng;
  /** sessions waiting for their judgement (judgeDelayMs) */
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly opts: FloodOptions) {
    if (opts.mailboxes.length === 0) throw new RangeError("flood needs at least one mailbox");
    this.mix = new Rng(opts.seed, "flood.mix");
  }

  /** Draws the next message shape: 1-3 recipients, sizes from tiny to ~256 KB, sometimes dot-lines. */
  nextMail(): MailSpec {
    const r = this.mix;
    const n = 1 + (r.next() < 0.8 ? 0 : r.int(3));
    // distinct recipients: MTAs legitimately collapse repeats, and each gets one copy
    const to = [...new Set(Array.from({ length: n }, () => r.pick(this.opts.mailboxes)))];
    const roll = r.next();
    const size = roll < 0.6 ? 200 + r.int(2000) : roll < 0.95 ? 2000 + r.int(30_000) : 100_000 + r.int(160_000);
    return { from: `sender${r.int(50)}@${SENDER_DOMAIN}`, to, size, dotLines: r.next() < 0.1 };
  }

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<FloodResult> {
    const o = this.opts;
    const deadline = Date.now() + o.durationMs;
    const max = o.maxSessions ?? Number.MAX_SAFE_INTEGER;
    const worker = async (w: number): Promise<void> => {
      const rng = new Rng(o.seed, `flood.worker.${w}`);
      let failedConnects = 0;
      while (!this.stopped && Date.now() < deadline && this.sessions < max) {
        const next = this.nextSession(rng);
        if (next === null) break;
        this.sessions++;
        const { session, ...mail } = next;
        const { records, transcript } = await runObserved(session, { host: o.host, port: o.port, endpoints: o.endpoints ?? {}, ledger: o.ledger, timeoutMs: o.timeoutMs ?? 30_000, transports: this.transports, ...mail });
        const wait = this.backoff(records[0] as Omit<SessionRecord, "faults">, failedConnects);
        failedConnects = wait > 0 ? failedConnects + 1 : 0;
        const judgeAll = (): void => {
          for (const record of records) {
            const charged = o.faultsDuring?.(record.startedAt, record.endedAt, record.clientPort) ?? { faults: [] };
            const rec: SessionRecord = { ...record, faults: charged.faults, ...(charged.selfInflicted !== undefined && charged.selfInflicted.length > 0 ? { selfInflicted: charged.selfInflicted } : {}) };
            const v = judge(rec, o.judgeOptions?.() ?? {});
            if (rec.messageId !== null) o.ledger.settle(rec.messageId, v.dotResult, rec.faults);
            this.tally.add(rec, v, () => transcript.format(transcript.tail(24)));
            o.onSession?.(rec, v);
          }
        };
        if ((o.judgeDelayMs ?? 0) > 0) {
          const later = new Promise<void>((res) => setTimeout(res, o.judgeDelayMs)).then(judgeAll);
          this.pending.add(later);
          void later.finally(() => this.pending.delete(later));
        } else judgeAll();
        const pause = Math.max(wait, o.pacingMs ?? 0);
        if (pause > 0 && !this.stopped) await new Promise((res) => setTimeout(res, pause));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, (_, w) => worker(w)));
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    return { sessions: this.sessions, tally: this.tally, interrupted: this.stopped && this.gaveUp === null, gaveUp: this.gaveUp };
  }

  /** The next session and its mail: from the traffic when there is one, else one transaction of a drawn shape. */
  private nextSession(rng: Rng): ({ session: TrafficSession } & Pick<RunOptions, "from" | "pick" | "body">) | null {
    if (this.opts.traffic !== undefined) {
      const session = this.opts.traffic.next();
      if (session === null) return null;
      const from = `sender${this.mix.int(50)}@${SENDER_DOMAIN}`;
      const dotLines = this.mix.next() < 0.1;
      return { session, from, pick: (n) => this.recipients(n), body: () => bodyFor({ from, to: [], size: 0, dotLines }, rng) };
    }
    const mail = this.nextMail();
    return { session: oneTransaction(mail), from: mail.from, pick: () => mail.to, body: () => bodyFor(mail, rng) };
  }

  /** `n` recipients, distinct while there are enough mailboxes: MTAs legitimately collapse repeats, and each gets one copy. */
  private recipients(n: number): string[] {
    const boxes = this.opts.mailboxes;
    if (n >= boxes.length) return Array.from({ length: n }, (_, i) => boxes[i % boxes.length] as string);
    const picked = new Set<string>();
    while (picked.size < n) picked.add(this.mix.pick(boxes));
    return [...picked];
  }

  /** How long a worker waits before its next session: 0 after a connection, a growing backoff after a failed connect. Gives up on a dead server. */
  private backoff(record: Omit<SessionRecord, "faults">, failedBefore: number): number {
    const connectFailed = record.steps.length === 1 && record.steps[0]?.step === "connect" && record.steps[0].error !== undefined;
    if (!connectFailed) {
      this.unreachableSince = null;
      return 0;
    }
    this.unreachableSince ??= record.startedAt;
    const limit = this.opts.giveUpAfterMs ?? 10_000;
    if (Date.now() - this.unreachableSince >= limit && this.gaveUp === null) {
      this.gaveUp = `no connection to ${this.opts.host}:${this.opts.port} succeeded for ${Math.round(limit / 1000)} s (${record.steps[0]?.error?.message ?? "connect failed"}): the flood stopped`;
      this.stopped = true;
    }
    return Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(failedBefore, 6));
  }
}
