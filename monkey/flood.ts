// The flood: a bounded, continuous flow of varied but valid mail through smtp/. Each session
// becomes a SessionRecord for the oracle and a ledger entry; only sessions with findings keep a
// transcript tail, so hours-long runs stay in bounded memory.
import { buildMessage, SmtpConnectError, SmtpError, SmtpSession, Transcript } from "../smtp/index.js";
import type { Reply } from "../smtp/index.js";
import type { Ledger } from "./ledger.js";
import { judge, OutcomeTally, type JudgeOptions, type SessionRecord, type StepName, type StepResult, type Verdict } from "./oracle.js";
import { Rng, type Seed } from "./rng.js";

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

const EXPECTED: Record<StepName, string> = { connect: "", banner: "220", ehlo: "2xx", mail: "2xx", rcpt: "2xx", data: "354", dot: "2xx", quit: "221" };

function stepError(step: StepName, err: unknown): StepResult {
  if (err instanceof SmtpError) {
    // A connection accepted and then reset before Node saw it complete fails the connect itself.
    const reset = "reset" in err ? Boolean((err as { reset: unknown }).reset) : err instanceof SmtpConnectError && (err.code === "ECONNRESET" || err.code === "EPIPE") ? true : undefined;
    return { step, error: { kind: err.kind, message: err.message, ...(reset !== undefined ? { reset } : {}) } };
  }
  throw err;
}

function bodyFor(mail: MailSpec, rng: Rng): string | undefined {
  if (!mail.dotLines) return undefined;
  const lines = ["Hello,", ".a line that starts with a dot", "..two dots", ".", "bye"];
  return lines.map((l) => (rng.next() < 0.5 ? l : l.toUpperCase())).join("\r\n") + "\r\n";
}

/** One SMTP transaction: banner, EHLO, MAIL, RCPT..., DATA, message, QUIT. Never throws for SMTP failures. */
export async function runTransaction(opts: TransactionOptions, rng: Rng = new Rng(0, "tx")): Promise<TransactionResult> {
  const startedAt = Date.now();
  const transcript = new Transcript({ maxEntries: 64, headEntries: 8 });
  const steps: StepResult[] = [];
  let messageId: string | null = null;
  let after421: SessionRecord["after421"];
  let clientPort: number | undefined;
  const done = (): TransactionResult => ({
    record: { startedAt, endedAt: Date.now(), messageId, steps, ...(after421 !== undefined ? { after421 } : {}), ...(clientPort !== undefined ? { clientPort } : {}) },
    transcript,
  });
  let session: SmtpSession;
  try {
    session = await SmtpSession.connect({ host: opts.host, port: opts.port, timeoutMs: opts.timeoutMs, transcript });
    clientPort = session.localPort;
  } catch (err) {
    steps.push(stepError("connect", err));
    return done();
  }
  // Returns false when the transaction must stop (failure reply or error).
  const step = async (name: StepName, act: () => Promise<Reply>, want: (code: number) => boolean): Promise<boolean> => {
    try {
      const reply = await act();
      if (want(reply.code)) {
        steps.push({ step: name, reply });
        return true;
      }
      if (reply.code < 400) {
        // A 2xx/3xx that is not the one the step needs (250 to DATA): the server broke the
        // protocol; the session is not "ok" for having got no failure reply.
        steps.push({ step: name, reply, error: { kind: "protocol", message: `${reply.code} to ${name.toUpperCase()}, expected ${EXPECTED[name]}: ${reply.text}` } });
        session.close();
        return false;
      }
      steps.push({ step: name, reply });
      if (reply.code === 421) {
        try {
          await session.waitForClose(opts.closeWaitMs ?? 2000);
          after421 = "closed";
        } catch {
          after421 = "open";
        }
        session.close();
      } else {
        await session.quit();
      }
      return false;
    } catch (err) {
      steps.push(stepError(name, err));
      session.close();
      return false;
    }
  };
  const ok2 = (c: number): boolean => c >= 200 && c < 300;
  try {
    if (!(await step("banner", () => session.readReply(opts.timeoutMs, "banner"), (c) => c === 220))) return done();
    if (!(await step("ehlo", async () => (await session.ehlo(opts.helo ?? "client.smtpchaos.test")).reply, ok2))) return done();
    if (!(await step("mail", () => session.command(`MAIL FROM:<${opts.mail.from}>`), ok2))) return done();
    for (const rcpt of opts.mail.to) if (!(await step("rcpt", () => session.command(`RCPT TO:<${rcpt}>`), ok2))) return done();
    if (!(await step("data", () => session.command("DATA"), (c) => c === 354))) return done();
    messageId = opts.ledger.newId(new Set(opts.mail.to.map((a) => a.toLowerCase())).size);
    const body = bodyFor(opts.mail, rng);
    const msg = buildMessage({ from: opts.mail.from, to: opts.mail.to, id: messageId, ...(body !== undefined ? { body } : { size: opts.mail.size }) });
    opts.ledger.dotSent(messageId);
    if (!(await step("dot", () => session.sendData(msg.data), ok2))) return done();
    try {
      const bye = await session.command("QUIT", Math.min(opts.timeoutMs, 5000));
      steps.push({ step: "quit", reply: bye });
    } catch (err) {
      steps.push(stepError("quit", err));
    }
    session.close();
    return done();
  } finally {
    if (!session.closed) session.close();
  }
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
  /** fault points that fired during [from, to] (ms since epoch) */
  /** fault points that fired during [from, to] (ms since epoch) and may have hit the session from clientPort */
  faultsDuring?: (from: number, to: number, clientPort: number | undefined) => string[];
  judgeOptions?: () => JudgeOptions;
  onSession?: (rec: SessionRecord, v: Verdict) => void;
  /** pause between sessions of one worker, ms */
  pacingMs?: number;
  /** stop when no connection succeeded for this long (a dead server is a verdict, not a load to keep sending) */
  giveUpAfterMs?: number;
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
  sessions = 0;
  private stopped = false;
  private gaveUp: string | null = null;
  /** when the current run of failed connects began (null while connects succeed) */
  private unreachableSince: number | null = null;
  private readonly mix: Rng;

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
    return { from: `sender${r.int(50)}@client.smtpchaos.test`, to, size, dotLines: r.next() < 0.1 };
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
        this.sessions++;
        const { record, transcript } = await runTransaction(
          { host: o.host, port: o.port, mail: this.nextMail(), ledger: o.ledger, timeoutMs: o.timeoutMs ?? 30_000 },
          rng,
        );
        const wait = this.backoff(record, failedConnects);
        failedConnects = wait > 0 ? failedConnects + 1 : 0;
        const faults = o.faultsDuring?.(record.startedAt, record.endedAt, record.clientPort) ?? [];
        const rec: SessionRecord = { ...record, faults };
        const v = judge(rec, o.judgeOptions?.() ?? {});
        if (rec.messageId !== null) o.ledger.settle(rec.messageId, v.dotResult, faults);
        this.tally.add(rec, v, () => transcript.format(transcript.tail(24)));
        o.onSession?.(rec, v);
        const pause = Math.max(wait, o.pacingMs ?? 0);
        if (pause > 0 && !this.stopped) await new Promise((res) => setTimeout(res, pause));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, (_, w) => worker(w)));
    return { sessions: this.sessions, tally: this.tally, interrupted: this.stopped && this.gaveUp === null, gaveUp: this.gaveUp };
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
