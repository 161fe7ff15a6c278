// The one SMTP transaction engine: a client session that greets, upgrades, sends envelopes and
// messages (one command at a time or pipelined, a message chained with the next envelope or
// the QUIT), dribbles, aborts on purpose, and ends with one Outcome. Tools watch it through a
// StepObserver (storm's metrics, the monkey's oracle records and ledger) instead of writing
// their own SMTP dialogue.
import { Capabilities } from "./capabilities.js";
import { SmtpDisconnectedError, SmtpError } from "./errors.js";
import { encodeData, generatedBody } from "./message.js";
import { Refused, classify } from "./outcome.js";
import type { Outcome } from "./outcome.js";
import type { Reply } from "./reply.js";
import { SmtpSession } from "./session.js";
import type { TlsOptions } from "./session.js";
import type { Transcript } from "./transcript.js";

/**
 * The steps of a session, each with its reply; "rset" is the RSET between transactions,
 * "command" any other command a kind sends (NOOP), "garbage" a line that is not SMTP, sent on purpose.
 */
export type Step = "connect" | "banner" | "ehlo" | "tls" | "mail" | "rcpt" | "data" | "dot" | "rset" | "quit" | "command" | "garbage";

/** What a client that hides its commands (nodemailer) can time: the greeting through EHLO/STARTTLS, and MAIL to 354. */
export type CoarseStep = "handshake" | "envelope";

/** Hooks are optional and called synchronously: an observer must not throw. */
export interface StepObserver {
  /** how long a step took: from its command (or the write that carried it in a pipelined group) to its reply; "connect" from the scheduled start */
  timed?(step: Step | CoarseStep, ms: number): void;
  reply?(step: Step, reply: Reply): void;
  /** the step got a reply it cannot go on with (a 4xx/5xx, or a 2xx/3xx of the wrong class) */
  refused?(step: Step, reply: Reply, expected: string): void;
  /** the step ended in a wire error: timeout, close, reset, TLS, protocol violation */
  failed?(step: Step, err: SmtpError): void;
  /** connected from this local port (asked only when the hook exists: it costs a system call) */
  connected?(localPort: number | undefined): void;
  /** how the session connected: "ipv4", "plain", "starttls", "implicit-tls", ... */
  transport?(what: string): void;
  /** transaction `tx` begins: its first reply is the next one read */
  begin?(tx: number): void;
  /** the final dot of transaction `tx` is about to be written */
  dot?(tx: number): void;
  /**
   * Awaited before a step's command is written (before the connect, before the banner is read):
   * a fault sweep arms a fault for exactly that step. Only one-command-at-a-time steps call it,
   * never a pipelined group.
   */
  before?(step: Step): Promise<void> | void;
}

/**
 * Two observers of one session: each event goes to both, the first first; \`before\` awaits both.
 * A hook neither has stays absent (the engine asks for the local port only when someone listens).
 */
export function teeObserver(a: StepObserver, b: StepObserver): StepObserver {
  const both = <K extends keyof StepObserver>(k: K): Partial<StepObserver> =>
    a[k] === undefined && b[k] === undefined ? {} : ({ [k]: (...args: unknown[]) => {
      const fa = a[k] as ((...x: unknown[]) => unknown) | undefined;
      const fb = b[k] as ((...x: unknown[]) => unknown) | undefined;
      const ra = fa?.apply(a, args);
      if (k !== "before") {
        fb?.apply(b, args);
        return undefined;
      }
      return Promise.resolve(ra).then(() => fb?.apply(b, args));
    } } as Partial<StepObserver>);
  return { ...both("timed"), ...both("reply"), ...both("refused"), ...both("failed"), ...both("connected"), ...both("transport"), ...both("begin"), ...both("dot"), ...both("before") };
}

/** A message ready to send: dot-stuffed once, and cached with the text a pipelined write appends to it. */
export class PreparedMessage {
  readonly encoded: Buffer;
  private tail: { text: string; buf: Buffer } | null = null;

  constructor(readonly data: Buffer) {
    this.encoded = encodeData(data);
  }

  /** The encoded message followed by `text` (the next envelope, or QUIT) in one buffer. */
  followedBy(text: string): Buffer {
    if (this.tail?.text !== text) this.tail = { text, buf: Buffer.concat([this.encoded, Buffer.from(text, "latin1")]) };
    return this.tail.buf;
  }
}

/** A generated message of `size` body bytes after `head`, streamed in chunks: a 20 MB message costs no 20 MB buffer. */
export interface StreamedMessage {
  head: Buffer;
  size: number;
}

export interface Transaction {
  from: string;
  to: readonly string[];
  /** called once the server is ready for the message (after its 354), so an id can be drawn only for messages that get that far */
  message(): PreparedMessage | StreamedMessage;
  /** "data": half the message, then a reset; "after-dot": the whole message, then a reset before the reply */
  abort?: "data" | "after-dot";
}

export interface ClientOptions {
  host: string;
  port: number;
  implicitTls?: boolean;
  localAddress?: string;
  tlsOptions?: TlsOptions;
  timeoutMs: number;
  helo: string;
  /** upgrade with STARTTLS when the server offers it */
  starttls?: boolean;
  transcript?: Transcript | null;
  observer?: StepObserver;
  /** performance.now() when the session was due: "connect" counts from here (coordinated omission) */
  scheduledAt?: number;
  /** slowloris: command lines and the head of each message written `chunk` bytes at a time with pauses */
  dribble?: { chunk: number; pauseMs: number };
  /** the timer for dribble pauses and holds; setTimeout by default (storm passes its timer wheel) */
  sleep?: (ms: number) => Promise<void>;
  /** a 4xx/5xx that ends the session is answered with QUIT (default: the connection is closed) */
  quitAfterRefusal?: boolean;
  /** after a 421 that ends the session wait this long for the server to close, and report whether it did */
  closeWaitAfter421Ms?: number;
}

/** What a session does once greeted; with ClientOptions (how it connects) it is a SessionSpec. */
export interface SessionShape {
  transactions: number;
  /** transaction `i`, drawn when it starts, knowing what the server offered (its SIZE limit) */
  transaction(i: number, capabilities: Capabilities): Transaction;
  /** pipeline every transaction (RFC 2920) when the server offers PIPELINING */
  pipelining?: boolean;
  /** a transaction goes on when some recipients were refused and at least one was taken */
  partialRcpts?: boolean;
  /** RSET between every two transactions (otherwise only after a refused one) */
  rsetBetween?: boolean;
  /** after the greeting, before the first transaction (an idle hold, garbage) */
  afterGreeting?(client: SmtpClient): Promise<void>;
}

export type SessionSpec = ClientOptions & SessionShape;

export interface SessionResult {
  outcome: Outcome;
  /** messages answered 2xx after the final dot */
  accepted: number;
  /** after a 421 that ended the session: whether the server closed the connection */
  after421?: "closed" | "open";
}

// The checks of a reply, made once (not a closure per command).
const ok2 = (r: Reply): boolean => r.klass === "ok";
const is220 = (r: Reply): boolean => r.code === 220;
const is250 = (r: Reply): boolean => r.code === 250;
const is354 = (r: Reply): boolean => r.code === 354;
const anyReply = (): boolean => true;

/** What a read waits for, named once (as SmtpSession.command names it). */
const READING: Record<Step, string> = { connect: "connect", banner: "banner", ehlo: "reply to EHLO", tls: "reply to STARTTLS", mail: "reply to MAIL FROM", rcpt: "reply to RCPT TO", data: "reply to DATA", dot: "reply to end of data", rset: "reply to RSET", quit: "reply to QUIT", command: "reply", garbage: "reply to a line that is not SMTP" };

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One connected client: the greeting done, commands timed and observed step by step. */
export class SmtpClient {
  capabilities: Capabilities = Capabilities.NONE;
  /** the step whose reply is awaited: a wire error is attributed to it */
  step: Step = "connect";
  /** the server answered our own protocol violation (a "garbage" step) with a 5xx: it may close now (RFC 5321 7.8) */
  refusedViolation = false;
  private readonly obs: StepObserver;
  private readonly sleep: (ms: number) => Promise<void>;

  private constructor(
    readonly session: SmtpSession,
    readonly options: ClientOptions,
  ) {
    this.obs = options.observer ?? {};
    this.sleep = options.sleep ?? defaultSleep;
  }

  /** A client over a session someone else greeted (a script's connection): only transactions are left to run. */
  static over(session: SmtpSession, o: ClientOptions): SmtpClient {
    return new SmtpClient(session, o);
  }

  /** Connects, reads the banner, EHLO, STARTTLS (when asked and offered) and EHLO again. `holder.client` is the client as soon as it exists (to close it if a later step throws). */
  static async open(o: ClientOptions, holder?: { client: SmtpClient | null }): Promise<SmtpClient> {
    const obs = o.observer ?? {};
    const t0 = o.scheduledAt ?? performance.now();
    if (obs.before !== undefined) await obs.before("connect");
    // Spreads last: in V8 (Node 20) properties after a spread cost about 0.5 µs each, per session.
    const session = await SmtpSession.connect({
      host: o.host,
      port: o.port,
      tls: o.implicitTls === true ? "implicit" : "none",
      timeoutMs: o.timeoutMs,
      transcript: o.transcript === undefined ? null : o.transcript,
      localAddress: o.localAddress,
      ...o.tlsOptions,
    });
    const c = new SmtpClient(session, o);
    if (holder !== undefined) holder.client = c;
    obs.connected?.(session.localPort);
    obs.timed?.("connect", performance.now() - t0);
    await c.expect("banner", () => c.read("banner"), is220, "220");
    await c.ehlo();
    // Implicit TLS is the caller's to report: it chose the port.
    if (o.implicitTls === true) return c;
    if (o.starttls === true && c.capabilities.has("STARTTLS")) {
      const t = performance.now();
      c.step = "tls";
      const r = await session.command("STARTTLS", o.timeoutMs);
      obs.reply?.("tls", r);
      if (r.code !== 220) c.refuse("tls", r, "220");
      await session.startTls(o.tlsOptions, o.timeoutMs);
      obs.timed?.("tls", performance.now() - t);
      obs.transport?.("starttls");
      c.step = "ehlo";
      c.capabilities = (await session.ehlo(o.helo, o.timeoutMs)).capabilities;
    } else obs.transport?.(o.starttls === true ? "starttls-unavailable" : "plain");
    return c;
  }

  get closed(): boolean {
    return this.session.closed;
  }

  /** A command line, dribbled when the session does, and its reply (expect() without a closure per command). */
  async command(step: Step, line: string, ok: (r: Reply) => boolean, expected = "2xx"): Promise<Reply> {
    this.step = step;
    if (this.obs.before !== undefined) await this.obs.before(step);
    const t = performance.now();
    return this.judged(step, t, await this.send(line), ok, expected);
  }

  /** Runs `act` as `step`: timed and observed; a reply `ok` rejects is a Refused. */
  async expect(step: Step, act: () => Promise<Reply>, ok: (r: Reply) => boolean, expected: string): Promise<Reply> {
    this.step = step;
    if (this.obs.before !== undefined) await this.obs.before(step);
    const t = performance.now();
    return this.judged(step, t, await act(), ok, expected);
  }

  private judged(step: Step, t: number, r: Reply, ok: (r: Reply) => boolean, expected: string): Reply {
    this.obs.timed?.(step, performance.now() - t);
    this.obs.reply?.(step, r);
    if (step === "garbage" && r.code >= 500) this.refusedViolation = true;
    if (!ok(r)) this.refuse(step, r, expected, step !== "dot");
    return r;
  }

  refuse(step: Step, r: Reply, expected: string, open = true, unread = 0): never {
    this.obs.refused?.(step, r, expected);
    throw new Refused(r, unread, open);
  }

  /** Writes bytes a few at a time with pauses (slowloris), or at once. */
  async dribble(data: string | Buffer): Promise<void> {
    const d = this.options.dribble;
    if (d === undefined) {
      this.session.write(data);
      return;
    }
    const buf = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    const step = Math.max(1, d.chunk);
    for (let off = 0; off < buf.length && !this.session.closed; off += step) {
      this.session.write(buf.subarray(off, off + step));
      if (off + step < buf.length) await this.sleep(d.pauseMs);
    }
  }

  hold(ms: number): Promise<void> {
    return this.sleep(ms);
  }

  /** The reply to what was just written, within the session's per-reply timeout. */
  read(what: string): Promise<Reply> {
    return this.session.readReply(this.options.timeoutMs, what);
  }

  // Not async where it need not be: each async layer costs microtask turns, per command.
  private send(line: string): Promise<Reply> {
    // the step names what is awaited (no label closure per command), but for a free-form command
    if (this.options.dribble === undefined) {
      if (this.step === "command" || this.step === "garbage") return this.session.command(line, this.options.timeoutMs);
      this.session.writeLine(line);
      return this.session.readReply(this.options.timeoutMs, READING[this.step]);
    }
    return this.dribble(line + "\r\n").then(() => this.read(READING[this.step]));
  }

  private async ehlo(): Promise<void> {
    const r = await this.command("ehlo", `EHLO ${this.options.helo}`, is250, "250");
    this.capabilities = Capabilities.fromEhlo(r);
  }
}

/** MAIL, the RCPTs and DATA as one pipelined segment. */
function envelopeSegment(tx: Transaction): string {
  let s = `MAIL FROM:<${tx.from}>\r\n`;
  for (const to of tx.to) s += `RCPT TO:<${to}>\r\n`;
  return s + "DATA\r\n";
}

// Whole fill lines, so chunks can follow each other and the body stays line-aligned.
const LARGE_CHUNK = generatedBody(84 * 3120);

/**
 * Runs a whole session: greeting, transactions and QUIT. A refused transaction is followed by
 * an RSET and the next one, as an MTA would; a refusal of the last one, a 421 or a wire error
 * ends the session with its outcome. Never throws for the server's behaviour.
 */
export async function runSmtpSession(spec: SessionSpec): Promise<SessionResult>;
/** The same with the connection options apart: a load generator shares them instead of copying them per session. */
export async function runSmtpSession(spec: SessionShape, client: ClientOptions): Promise<SessionResult>;
export async function runSmtpSession(spec: SessionShape, client: ClientOptions = spec as SessionSpec): Promise<SessionResult> {
  // One object for the session's state, no closures: a storm suspends thousands of these frames.
  const tally: Tally = { client: null, accepted: 0, refused: null, after421: undefined };
  try {
    const c = await SmtpClient.open(client, tally);
    await spec.afterGreeting?.(c);
    // The transactions run in a frame of their own: a session idle before them (a hold) keeps
    // only this small one suspended, thousands at once.
    const { aborted, quitSent } = spec.transactions > 0 ? await runTransactions(c, spec, tally) : NOTHING_SENT;
    if (aborted) return resultOf(tally, tally.refused !== null ? classify(tally.refused) : "aborted");
    c.step = "quit";
    if (quitSent) await quitReply(c);
    else await politeQuit(c);
    return resultOf(tally, tally.refused !== null ? classify(tally.refused) : "ok");
  } catch (err) {
    const c = tally.client;
    const wire = classify(err instanceof Refused ? (tally.refused ?? err) : err);
    const outcome = (wire === "closed" || wire === "reset") && c?.refusedViolation === true ? "closed-after-refusal" : wire;
    if (err instanceof SmtpError) client.observer?.failed?.(c?.step ?? "connect", err);
    if (err instanceof Refused && c !== null && !c.closed) {
      if (err.reply.code === 421) {
        if ((client.closeWaitAfter421Ms ?? 0) > 0) {
          try {
            await c.session.waitForClose(client.closeWaitAfter421Ms);
            tally.after421 = "closed";
          } catch {
            tally.after421 = "open";
          }
        }
      } else if (client.quitAfterRefusal === true && err.reply.code >= 400) await c.session.quit();
    }
    return resultOf(tally, outcome);
  } finally {
    tally.client?.session.close();
  }
}

const NOTHING_SENT = { aborted: false, quitSent: false };

function resultOf(t: Tally, outcome: Outcome): SessionResult {
  return t.after421 !== undefined ? { outcome, accepted: t.accepted, after421: t.after421 } : { outcome, accepted: t.accepted };
}

/** What a session leaves behind, also when a step throws. */
interface Tally {
  /** the client once connected (the session closes it whatever happens) */
  client: SmtpClient | null;
  after421: SessionResult["after421"];
  accepted: number;
  /** the first refusal of a session that went on after it: the session's outcome */
  refused: Refused | null;
}

/** The transactions of a greeted session; a refusal that ends the session is thrown. */
async function runTransactions(c: SmtpClient, spec: SessionShape, tally: Tally): Promise<{ aborted: boolean; quitSent: boolean }> {
  const s = c.session;
  const obs = c.options.observer ?? {};
  // Every transaction of a pipelining session pipelines. The message goes in one write with
  // the next transaction's envelope, or with the QUIT after the last one (RFC 2920 3.1:
  // message content may start a group, QUIT may end one), so in a reused session each
  // message costs one write and one round trip instead of 3 + recipients.
  const pipelining = spec.pipelining === true && c.capabilities.has("PIPELINING");
  /** the next transaction, drawn early to go out with the previous message; sentAt once written */
  let next: { tx: Transaction; envelope: string; sentAt: number | null } | null = null;
  let quitSent = false;
  let dirty = false;
  let aborted = false;
  for (let i = 0; i < spec.transactions; i++) {
    const last = i === spec.transactions - 1;
    if (i > 0 && (dirty || spec.rsetBetween === true)) await c.expect("rset", () => s.command("RSET", c.options.timeoutMs), ok2, "2xx");
    dirty = false;
    const pending = next;
    next = null;
    const tx = pending?.tx ?? spec.transaction(i, c.capabilities);
    const chain = pipelining && tx.abort === undefined ? (last ? "quit" : "envelope") : null;
    try {
      obs.begin?.(i);
      if (pipelining) {
        let sentAt = pending?.sentAt ?? null;
        if (sentAt === null) {
          sentAt = performance.now();
          s.write(pending?.envelope ?? envelopeSegment(tx));
        }
        await pipelinedReplies(c, tx, sentAt, spec.partialRcpts === true);
      } else {
        await envelopeReplies(c, tx, spec.partialRcpts === true);
      }
      let tail: string | null = null;
      if (chain === "envelope") {
        const following = spec.transaction(i + 1, c.capabilities);
        next = { tx: following, envelope: envelopeSegment(following), sentAt: null };
        tail = next.envelope;
      } else if (chain === "quit") tail = "QUIT\r\n";
      const sent = await sendMessage(c, tx, i, tail, (at) => {
        if (next !== null) next.sentAt = at;
        if (chain === "quit") quitSent = true;
      });
      if (sent !== null) tally.accepted++;
      else aborted = true;
    } catch (err) {
      // A refusal ends the session when nothing is left to send or the server is closing
      // (421); otherwise, as an MTA would, reset and go on with the next message (whose
      // envelope may already have gone out with the refused one: its replies come all the same).
      if (!(err instanceof Refused) || last || err.reply.code === 421) throw err;
      tally.refused ??= err;
      for (let k = 0; k < err.unread; k++) {
        c.step = "dot";
        obs.reply?.("dot", await c.read("reply to end of data"));
      }
      dirty = err.open;
    }
  }
  return { aborted, quitSent };
}

/**
 * One transaction on a client whose greeting is done, one command at a time: resolves with the
 * reply that ended it, the one to the final dot or the refusal (a script's next expect judges it).
 */
export async function sendTransaction(c: SmtpClient, tx: Transaction): Promise<Reply> {
  try {
    await envelopeReplies(c, tx, false);
    return (await sendMessage(c, tx, 0, null, () => {})) as Reply;
  } catch (err) {
    if (err instanceof Refused) return err.reply;
    throw err;
  }
}

/** MAIL, RCPT... and DATA one command at a time. */
async function envelopeReplies(c: SmtpClient, tx: Transaction, partialOk: boolean): Promise<void> {
  await c.command("mail", `MAIL FROM:<${tx.from}>`, ok2);
  let ok = 0;
  let refusal: Reply | null = null;
  for (const to of tx.to) {
    const r = await c.command("rcpt", `RCPT TO:<${to}>`, partialOk ? anyReply : ok2);
    if (ok2(r)) ok++;
    else refusal ??= r;
  }
  // Some recipients refused (452 too many recipients) is fine when others were taken.
  if (ok === 0 && refusal !== null) c.refuse("rcpt", refusal, "2xx");
  await c.command("data", "DATA", is354, "354");
}

/**
 * The replies to a pipelined envelope (RFC 2920), in order. Each step is timed from the write
 * `t` that carried the envelope to its own reply, so "rcpt" and "data" include the replies
 * queued before them (and, when the envelope went out with the previous message, "mail"
 * includes the reply to that message's dot).
 */
async function pipelinedReplies(c: SmtpClient, tx: Transaction, t: number, partialOk: boolean): Promise<void> {
  const s = c.session;
  const obs = c.options.observer ?? {};
  // A 421 means the server is closing (RFC 5321 3.8): the replies to the rest of the group
  // will not come, and the session ends with the 421 rather than "closed".
  const read = async (step: Step): Promise<Reply> => {
    c.step = step;
    const r = await c.read(READING[step]);
    obs.reply?.(step, r);
    if (r.code === 421) c.refuse(step, r, "2xx");
    return r;
  };
  const mail = await read("mail");
  obs.timed?.("mail", performance.now() - t);
  let ok = 0;
  let refusal: Reply | null = null;
  for (let i = 0; i < tx.to.length; i++) {
    const r = await read("rcpt");
    if (ok2(r)) ok++;
    else refusal ??= r;
  }
  obs.timed?.("rcpt", performance.now() - t);
  const data = await read("data");
  obs.timed?.("data", performance.now() - t);
  const bad: [Step, Reply, string] | null = !ok2(mail)
    ? ["mail", mail, "2xx"]
    : refusal !== null && (!partialOk || ok === 0)
      ? ["rcpt", refusal, "2xx"]
      : data.code !== 354
        ? ["data", data, "354"]
        : null;
  if (bad === null) return;
  // The server already answered DATA with 354: close it with an empty message, whose reply the
  // session reads if it goes on.
  if (data.code === 354) {
    s.write(".\r\n");
    c.refuse(bad[0], bad[1], bad[2], true, 1);
  }
  c.refuse(bad[0], bad[1], bad[2]);
}

/**
 * The message after a 354, then its reply; `tail` goes in the same write (the next envelope or
 * QUIT) and `wrote` learns when that write happened. Resolves with the accepting reply, or null
 * for an abort on purpose.
 */
async function sendMessage(c: SmtpClient, tx: Transaction, i: number, tail: string | null, wrote: (at: number) => void): Promise<Reply | null> {
  const s = c.session;
  const obs = c.options.observer ?? {};
  const msg = tx.message();
  if (!(msg instanceof PreparedMessage)) {
    obs.dot?.(i);
    return c.expect("dot", () => streamLarge(c, msg), ok2, "2xx");
  }
  if (tx.abort === "data") {
    // Half the message, then a reset: the server must not deliver it.
    await s.writeLarge(msg.data.subarray(0, Math.floor(msg.data.length / 2)));
    s.reset();
    return null;
  }
  obs.dot?.(i);
  if (tx.abort === "after-dot") {
    // The whole message and the final dot, then a reset before the reply can be read.
    await s.writeLarge(msg.encoded);
    s.reset();
    return null;
  }
  if (c.options.dribble !== undefined) {
    // The head of the message dribbled too, then the rest at once.
    const head = Math.min(64, msg.encoded.length);
    await c.dribble(msg.encoded.subarray(0, head));
    return c.expect("dot", async () => {
      await s.writeLarge(msg.encoded.subarray(head));
      return c.read("reply to end of data");
    }, ok2, "2xx");
  }
  return c.expect("dot", async () => {
    wrote(performance.now());
    await s.writeLarge(tail === null ? msg.encoded : msg.followedBy(tail));
    return c.read("reply to end of data");
  }, ok2, "2xx");
}

async function streamLarge(c: SmtpClient, m: StreamedMessage): Promise<Reply> {
  const s = c.session;
  s.write(m.head);
  let left = m.size;
  while (left >= LARGE_CHUNK.length && !s.closed) {
    await s.writeLarge(LARGE_CHUNK, 64 * 1024);
    left -= LARGE_CHUNK.length;
  }
  // generated bodies never start a line with "." so no dot-stuffing is needed
  await s.writeLarge(encodeData(generatedBody(left)));
  await s.drain();
  return c.read("reply to end of data");
}

/** The 221 to a QUIT pipelined after the last message, then the close: a missing 221 does not fail the session. */
async function quitReply(c: SmtpClient): Promise<void> {
  const obs = c.options.observer ?? {};
  try {
    obs.reply?.("quit", await c.session.readReply(Math.min(c.options.timeoutMs, 5_000), "reply to QUIT"));
  } catch (err) {
    // The message was accepted; how the server says goodbye is not this session's result.
    if (!(err instanceof SmtpError)) throw err;
    obs.failed?.("quit", err);
  } finally {
    c.session.close();
  }
}

/** QUIT and its 221, observed; like quitReply, never the session's result. */
async function politeQuit(c: SmtpClient): Promise<void> {
  if (c.closed) {
    c.options.observer?.failed?.("quit", new SmtpDisconnectedError(c.session.remote, "QUIT", false, ""));
    return;
  }
  const before = c.options.observer?.before;
  if (before !== undefined) await before("quit");
  c.session.writeLine("QUIT");
  await quitReply(c);
}

/** A session idle on its established connection must still be connected when the hold ends. */
export function assertOpen(c: SmtpClient, what: string): void {
  if (c.closed) throw new SmtpDisconnectedError(c.session.remote, what, false, "");
}
