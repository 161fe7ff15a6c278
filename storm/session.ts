// One storm session over the shared wire layer, timed phase by phase. Replies are judged here
// only by their class; all parsing is the wire layer's. The well-behaved kind is nodemailer's
// client instead (storm/wellbehaved.ts): what a real, polite MTA client does.
import { Capabilities, SmtpSession, SmtpError, SmtpConnectError, SmtpDisconnectedError, buildMessage, encodeData, generatedBody } from "../smtp/index.js";
import type { Reply } from "../smtp/index.js";
import type { Metrics, Outcome, Phase } from "./metrics.js";
import type { SessionPlan } from "./plan.js";
import { wheel } from "./wheel.js";
import { runWellBehaved } from "./wellbehaved.js";

export interface SessionTarget {
  host: string;
  port: number;
  rcpt: string;
  timeoutMs: number;
  /** implicit-TLS (SMTPS) port, when the server listens on one */
  tlsPort?: number;
  /** an IPv6 address of the same server (e.g. "::1"), with its ports when they differ */
  host6?: string;
  port6?: number;
  tlsPort6?: number;
  /** AUTH credentials for the well-behaved client (used only when the server offers AUTH) */
  auth?: { user: string; pass: string };
}

export interface SessionOptions {
  /** performance.now() when the session was due (open loop); latency counts from here */
  scheduledAt?: number;
}

/**
 * The server refused a transaction with a reply: the session ends gracefully with that class,
 * or, when it has transactions left, resets and goes on (and ends with that class).
 */
export class Refused extends Error {
  constructor(
    readonly reply: Reply,
    /** replies still to read before the session can go on (the reply to an empty message closing a 354) */
    readonly unread = 0,
    /**
     * the transaction is still open and needs an RSET before the next one; false for a refused
     * message: the reply to the final dot, whatever it is, ends the transaction (RFC 5321 4.1.1.4)
     */
    readonly open = true,
  ) {
    super(`${reply.code} ${reply.text}`);
  }
}

export const CLIENT_NAME = "storm.client.example";
export const SENDER = "storm@client.example";

/** Where a plan connects: its address family and TLS mode, falling back (and counting it) when the target lacks one. */
export function endpointFor(plan: SessionPlan, t: SessionTarget, m: Metrics | null): { host: string; port: number; implicit: boolean } {
  let host = t.host;
  let port = t.port;
  let tlsPort = t.tlsPort;
  if (plan.family === 6 && t.host6 !== undefined) {
    host = t.host6;
    port = t.port6 ?? t.port;
    tlsPort = t.tlsPort6 ?? t.tlsPort;
    m?.transport("ipv6");
  } else {
    if (plan.family === 6) m?.transport("ipv6-unavailable");
    m?.transport("ipv4");
  }
  if (plan.tls === "implicit") {
    if (tlsPort !== undefined) {
      m?.transport("implicit-tls");
      return { host, port: tlsPort, implicit: true };
    }
    m?.transport("implicit-tls-unavailable");
  }
  return { host, port, implicit: false };
}

export async function runSession(plan: SessionPlan, target: SessionTarget, m: Metrics, opts: SessionOptions = {}): Promise<Outcome> {
  const t0 = opts.scheduledAt ?? performance.now();
  m.sessionStarted();
  m.kind(plan.kind);
  const { outcome, accepted } = plan.kind === "wellbehaved" ? await runWellBehaved(plan, target, m, t0) : await runWire(plan, target, m, t0);
  m.phase("session", performance.now() - t0);
  m.sessionEnded(outcome, accepted);
  return outcome;
}

const positive = (r: Reply): boolean => r.klass === "ok";

async function runWire(plan: SessionPlan, target: SessionTarget, m: Metrics, t0: number): Promise<{ outcome: Outcome; accepted: number }> {
  let accepted = 0;
  // The first refusal of a session that went on after it: the session's outcome.
  let refused: Refused | null = null;
  let session: SmtpSession | null = null;
  let outcome: Outcome;
  const record = (phase: Phase, since: number, r: Reply): void => {
    m.phase(phase, performance.now() - since);
    m.code(phase, r.code, r.enhanced);
  };
  const timed = async (phase: Phase, fn: () => Promise<Reply>, ok: (r: Reply) => boolean): Promise<Reply> => {
    const t = performance.now();
    const r = await fn();
    record(phase, t, r);
    if (!ok(r)) throw new Refused(r, 0, phase !== "dot");
    return r;
  };
  const slow = plan.kind === "slowloris";
  try {
    const ep = endpointFor(plan, target, m);
    session = await SmtpSession.connect({ host: ep.host, port: ep.port, tls: ep.implicit ? "implicit" : "none", timeoutMs: target.timeoutMs, transcript: null });
    // From the scheduled start: in an open-loop run a late start is latency the client sees.
    m.phase("connect", performance.now() - t0);
    const s = session;
    // Slowloris dribbles every command line; the others send it in one write.
    const cmd = async (line: string): Promise<Reply> => {
      if (!slow) return s.command(line);
      await dribble(s, line + "\r\n", plan);
      return s.readReply(undefined, `reply to ${line.split(" ")[0]}`);
    };
    await timed("banner", () => s.readReply(undefined, "banner"), (r) => r.code === 220);
    let capabilities = await ehlo(s, m, cmd);
    if (plan.tls === "starttls" && !ep.implicit && capabilities.has("STARTTLS")) {
      const t = performance.now();
      const r = await s.command("STARTTLS");
      m.code("tls", r.code, r.enhanced);
      if (r.code !== 220) throw new Refused(r);
      await s.startTls();
      m.phase("tls", performance.now() - t);
      m.transport("starttls");
      capabilities = (await s.ehlo(CLIENT_NAME)).capabilities;
    } else if (!ep.implicit) {
      m.transport(plan.tls === "starttls" ? "starttls-unavailable" : "plain");
    }
    if (plan.kind === "hold") {
      // Idle on an established session: what the 10k-concurrency run holds open.
      m.holdStarted();
      try {
        await wheel.sleep(plan.holdMs);
      } finally {
        m.holdEnded();
      }
      if (s.closed) throw new SmtpDisconnectedError(s.remote, "end of hold", false, "");
    }
    if (plan.kind === "garbage") {
      // Garbage and an overlong line: the server must answer 5xx and keep going.
      await timed("mail", () => s.command("\x01\x02 not smtp " + "x".repeat(2000)), () => true);
    }
    const transactions = plan.kind === "hold" ? 0 : plan.transactions;
    const rcptLine = `RCPT TO:<${target.rcpt}>`;
    // Every transaction of a pipelining kind pipelines. The message goes in one write with the
    // next transaction's envelope, or with the QUIT after the last one (RFC 2920 3.1: message
    // content may start a group, QUIT may end one), so in a reused session each message costs
    // one write and one round trip instead of 3 + recipients.
    const pipelining = (plan.kind === "pipelined" || plan.kind === "many-rcpts") && capabilities.has("PIPELINING");
    const envelope = pipelining ? envelopeSegment(plan.rcpts, rcptLine) : "";
    /** when the next envelope went out with the previous message (its phases count from that write) */
    let envelopeSentAt: number | null = null;
    const aborting = plan.kind === "abort-data" || plan.kind === "abort-after-dot";
    // Built on first use and sent by every transaction of the session (one Message-ID), as
    // smtp-source sends one message again and again: building and dot-stuffing it costs more
    // than the rest of the client's work for a small message.
    let message: Message | null = null;
    const getMessage = (): Message => {
      if (message === null) {
        const { data } = buildMessage({ from: SENDER, to: [target.rcpt], size: plan.size, date: new Date(0) });
        const encoded = encodeData(data);
        const then = (text: string): Buffer => (pipelining ? Buffer.concat([encoded, Buffer.from(text, "latin1")]) : encoded);
        message = { data, encoded, withEnvelope: then(envelope), withQuit: then("QUIT\r\n") };
      }
      return message;
    };
    let quitSent = false;

    /**
     * One transaction; resolves true when the message was accepted, false when aborted on
     * purpose. `chain`: send the next transaction's envelope with this message, or QUIT after
     * the last one.
     */
    const transaction = async (abort: boolean, chain: "envelope" | "quit" | null): Promise<boolean> => {
      if (pipelining) {
        let t = envelopeSentAt;
        envelopeSentAt = null;
        if (t === null) {
          t = performance.now();
          s.write(envelope);
        }
        await pipelinedReplies(s, m, t, plan.rcpts, plan.kind === "many-rcpts");
      } else {
        await timed("mail", () => cmd(`MAIL FROM:<${SENDER}>`), positive);
        let ok = 0;
        let refusal: Reply | null = null;
        for (let i = 0; i < plan.rcpts; i++) {
          const t = performance.now();
          const r = await cmd(rcptLine);
          record("rcpt", t, r);
          if (positive(r)) ok++;
          else if (plan.kind !== "many-rcpts") throw new Refused(r);
          else refusal ??= r;
        }
        // Many recipients: a 452 "too many recipients" for some is fine if others were taken.
        if (ok === 0 && refusal !== null) throw new Refused(refusal);
        await timed("data", () => cmd("DATA"), (r) => r.code === 354);
      }
      if (plan.kind === "large") {
        await timed("dot", () => streamLarge(s, plan.size, target.rcpt), positive);
        return true;
      }
      const msg = getMessage();
      if (abort && plan.kind === "abort-data") {
        // Half the message, then a reset: the server must not deliver it.
        await s.writeLarge(msg.data.subarray(0, Math.floor(msg.data.length / 2)));
        s.reset();
        return false;
      }
      if (abort) {
        // The whole message and the final dot, then a reset before the 250 can be read.
        await s.writeLarge(msg.encoded);
        s.reset();
        return false;
      }
      if (slow) {
        // The head of the message dribbled too, then the rest at once.
        const head = Math.min(64, msg.encoded.length);
        await dribble(s, msg.encoded.subarray(0, head), plan);
        await timed("dot", async () => {
          await s.writeLarge(msg.encoded.subarray(head));
          return s.readReply(undefined, "reply to end of data");
        }, positive);
      } else {
        await timed("dot", async () => {
          if (chain === "envelope") envelopeSentAt = performance.now();
          quitSent = chain === "quit";
          await s.writeLarge(chain === "envelope" ? msg.withEnvelope : chain === "quit" ? msg.withQuit : msg.encoded);
          return s.readReply(undefined, "reply to end of data");
        }, positive);
      }
      return true;
    };

    // RSET before a transaction only when the one before was refused before its message (or
    // for "multi", always): the reply to the final dot has already ended the transaction
    // (RFC 5321 4.1.1.4), so a refused message needs none either.
    let dirty = false;
    let aborted = false;
    for (let tx = 0; tx < transactions; tx++) {
      const last = tx === transactions - 1;
      if (tx > 0 && (dirty || plan.kind === "multi")) await timed("mail", () => s.command("RSET"), positive);
      dirty = false;
      try {
        // The abort kinds complete every transaction but the last, and abort that one.
        if (await transaction(aborting && last, !pipelining || aborting ? null : last ? "quit" : "envelope")) accepted++;
        else aborted = true;
      } catch (err) {
        // A refusal ends the session when nothing is left to send or the server is closing
        // (421); otherwise, as an MTA would, reset and go on with the next message.
        if (!(err instanceof Refused) || last || err.reply.code === 421) throw err;
        refused ??= err;
        for (let i = 0; i < err.unread; i++) {
          const r = await s.readReply(undefined, "reply to end of data");
          m.code("dot", r.code, r.enhanced);
        }
        dirty = err.open;
      }
    }
    if (aborted) {
      outcome = refused !== null ? classify(refused) : "aborted";
    } else {
      if (quitSent) await quitReply(s);
      else await s.quit();
      outcome = refused !== null ? classify(refused) : "ok";
    }
  } catch (err) {
    outcome = classify(err instanceof Refused ? (refused ?? err) : err);
  } finally {
    session?.close();
  }
  return { outcome, accepted };
}

async function ehlo(s: SmtpSession, m: Metrics, cmd: (line: string) => Promise<Reply>): Promise<Capabilities> {
  const t = performance.now();
  const reply = await cmd(`EHLO ${CLIENT_NAME}`);
  m.phase("ehlo", performance.now() - t);
  m.code("ehlo", reply.code, reply.enhanced);
  if (reply.code !== 250) throw new Refused(reply);
  return Capabilities.fromEhlo(reply);
}

interface Message {
  data: Buffer;
  /** dot-stuffed, with the final dot */
  encoded: Buffer;
  /** pipelining: followed by the next envelope, or by QUIT */
  withEnvelope: Buffer;
  withQuit: Buffer;
}

/** The 221 to a QUIT pipelined after the last message, then the close: like SmtpSession.quit(), a missing 221 does not fail the session. */
async function quitReply(s: SmtpSession): Promise<void> {
  try {
    await s.readReply(Math.min(s.timeoutMs, 5_000), "reply to QUIT");
  } catch (err) {
    // The message was accepted; how the server says goodbye is not this session's result.
    if (!(err instanceof SmtpError)) throw err;
  } finally {
    s.close();
  }
}

/** MAIL, `rcpts` RCPTs and DATA as one segment: built once per session. */
function envelopeSegment(rcpts: number, rcptLine: string): string {
  return `MAIL FROM:<${SENDER}>\r\n` + `${rcptLine}\r\n`.repeat(rcpts) + "DATA\r\n";
}

/**
 * The replies to a pipelined envelope (RFC 2920), in order. Each phase is timed from the write
 * `t` that carried the envelope to its own reply, so "rcpt" and "data" include the replies
 * queued before them (and, when the envelope went out with the previous message, "mail"
 * includes the reply to that message's dot).
 */
async function pipelinedReplies(s: SmtpSession, m: Metrics, t: number, rcpts: number, partialOk: boolean): Promise<void> {
  // A 421 means the server is closing (RFC 5321 3.8): the replies to the rest of the group
  // will not come, and the session ends with the 421 rather than "closed".
  const closing = (r: Reply): void => {
    if (r.code === 421) throw new Refused(r);
  };
  const mail = await s.readReply();
  m.phase("mail", performance.now() - t);
  m.code("mail", mail.code, mail.enhanced);
  closing(mail);
  let ok = 0;
  let refusal: Reply | null = null;
  for (let i = 0; i < rcpts; i++) {
    const r = await s.readReply();
    m.code("rcpt", r.code, r.enhanced);
    closing(r);
    if (positive(r)) ok++;
    else refusal ??= r;
  }
  m.phase("rcpt", performance.now() - t);
  const data = await s.readReply();
  m.phase("data", performance.now() - t);
  m.code("data", data.code, data.enhanced);
  closing(data);
  const refused = !positive(mail) ? mail : refusal !== null && (!partialOk || ok === 0) ? refusal : data.code !== 354 ? data : null;
  if (refused === null) return;
  // The server already answered DATA with 354: close it with an empty message, whose reply the
  // session reads if it goes on.
  if (data.code === 354) {
    s.write(".\r\n");
    throw new Refused(refused, 1);
  }
  throw new Refused(refused);
}

// Whole fill lines, so chunks can follow each other and the body stays line-aligned.
const LARGE_CHUNK = generatedBody(84 * 3120);

/** A generated message of `size` body bytes, streamed in fixed chunks with backpressure: a 20 MB message costs no 20 MB buffer. */
async function streamLarge(s: SmtpSession, size: number, rcpt: string): Promise<Reply> {
  const head = buildMessage({ from: SENDER, to: [rcpt], size: 0, date: new Date(0) }).data;
  s.write(head);
  let left = size;
  while (left >= LARGE_CHUNK.length && !s.closed) {
    await s.writeLarge(LARGE_CHUNK, 64 * 1024);
    left -= LARGE_CHUNK.length;
  }
  // generated bodies never start a line with "." so no dot-stuffing is needed
  await s.writeLarge(encodeData(generatedBody(left)));
  await s.drain();
  return s.readReply(undefined, "reply to end of data");
}

/** Writes `data` a few bytes at a time with pauses (slowloris). */
async function dribble(s: SmtpSession, data: string | Buffer, plan: SessionPlan): Promise<void> {
  const buf = typeof data === "string" ? Buffer.from(data, "latin1") : data;
  const step = Math.max(1, plan.chunk);
  for (let off = 0; off < buf.length && !s.closed; off += step) {
    s.write(buf.subarray(off, off + step));
    if (off + step < buf.length) await wheel.sleep(plan.pauseMs);
  }
}

/** Connect errors that are this machine's limits, not the server's behaviour. */
const LOCAL_ERRORS = new Set(["EMFILE", "ENFILE", "EADDRNOTAVAIL", "ENOBUFS"]);

/** A reset while connecting: the server accepted the connection, then dropped it. */
const RESET_ERRORS = new Set(["ECONNRESET", "EPIPE"]);

export function classify(err: unknown): Outcome {
  if (err instanceof Refused) {
    // A 2xx/3xx that ended a step is a reply of the wrong class for it (250 to DATA, 354 to
    // MAIL): the server broke the protocol, it did not refuse anything.
    const k = err.reply.klass;
    return k === "tempfail" ? "tempfail" : k === "permfail" ? "permfail" : "protocol";
  }
  if (err instanceof SmtpConnectError) {
    if (LOCAL_ERRORS.has(err.code)) return "local";
    return err.code === "ETIMEDOUT" ? "timeout" : RESET_ERRORS.has(err.code) ? "reset" : "refused";
  }
  if (err instanceof SmtpDisconnectedError) return err.reset ? "reset" : "closed";
  if (err instanceof SmtpError) return err.kind === "timeout" ? "timeout" : err.kind === "tls" ? "tls" : "protocol";
  throw err;
}
