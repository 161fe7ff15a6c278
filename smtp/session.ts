// One client connection to an SMTP server: plain TCP (v4/v6), implicit TLS or STARTTLS.
// Replies are queued as they arrive, so pipelined commands and unsolicited replies (a 421 in
// the middle of a transaction) are never lost; every wait has a timeout reported as such.
import net from "node:net";
import tls from "node:tls";
import { once } from "node:events";
import { LineReader, LineTooLongError } from "./line-reader.js";
import { ReplyParser } from "./reply.js";
import { ReplyAccounting } from "./reply-accounting.js";
import type { Reply } from "./reply.js";
import { Capabilities } from "./capabilities.js";
import { encodeData, normalizeLineEndings } from "./message.js";
import { Transcript } from "./transcript.js";
import {
  SmtpConnectError,
  SmtpDisconnectedError,
  SmtpProtocolError,
  SmtpTimeoutError,
  SmtpTlsError,
  formatHostPort,
} from "./errors.js";

export interface TlsOptions {
  /** SNI and certificate name; defaults to the host when it is a name */
  servername?: string;
  /** verify the server certificate; off by default because test servers use self-signed ones */
  rejectUnauthorized?: boolean;
  ca?: string | Buffer;
  minVersion?: tls.SecureVersion;
}

export interface ConnectOptions extends TlsOptions {
  host: string;
  port: number;
  /** "implicit" = TLS from the first byte (SMTPS, port 465 style) */
  tls?: "none" | "implicit";
  /** default timeout of every wait, ms (0 = no timeout) */
  timeoutMs?: number;
  /** timeout of the TCP (and implicit TLS) connect, ms; defaults to timeoutMs */
  connectTimeoutMs?: number;
  localAddress?: string;
  /** record the dialogue here; pass null to record nothing (load generation) */
  transcript?: Transcript | null;
}

export interface TlsInfo {
  protocol: string | null;
  cipher: string;
  authorized: boolean;
}

type Waiter = {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | null;
  /** what is awaited, built only when an error must say it (most replies arrive) */
  what: Label;
};

type Label = string | (() => string);
const label = (l: Label): string => (typeof l === "string" ? l : l());

type CloseState = { reset: boolean; error: Error | null };

/** Replies a server may queue before the client reads them: pipelining needs a few hundred at most. */
const MAX_UNREAD_REPLIES = 10_000;

export class SmtpSession {
  readonly remote: string;
  readonly transcript: Transcript | null;
  readonly timeoutMs: number;
  private socket: net.Socket;
  /** the TCP socket under a TLS one: resetAndDestroy() works only on it */
  private readonly tcp: net.Socket;
  private reader = new LineReader();
  private parser = new ReplyParser();
  private replies: Reply[] = [];
  /** which replies the server owes: one that nobody asked for is a violation */
  private readonly owed = new ReplyAccounting();
  private waiter: Waiter | null = null;
  private closeState: CloseState | null = null;
  private closeWaiters: Array<() => void> | null = null;
  /** a protocol error is sticky: after it, the reply stream cannot be trusted */
  private protocolError: SmtpProtocolError | null = null;
  private readonly host: string;

  private constructor(socket: net.Socket, opts: ConnectOptions, transcript: Transcript | null, tcp: net.Socket = socket) {
    this.socket = socket;
    this.tcp = tcp;
    this.host = opts.host;
    this.remote = formatHostPort(opts.host, opts.port);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.transcript = transcript;
    this.attach(socket);
  }

  /** Opens the connection (and the TLS layer for implicit TLS). The banner is read with readReply(). */
  static async connect(opts: ConnectOptions): Promise<SmtpSession> {
    const timeout = opts.connectTimeoutMs ?? opts.timeoutMs ?? 30_000;
    const transcript = opts.transcript === undefined ? new Transcript() : opts.transcript;
    const implicit = opts.tls === "implicit";
    transcript?.info(`connecting to ${formatHostPort(opts.host, opts.port)}${implicit ? " (implicit TLS)" : ""}`);
    const remote = formatHostPort(opts.host, opts.port);
    const plain = net.connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress });
    plain.setNoDelay(true);
    try {
      await settled(plain, "connect", timeout, () => new SmtpConnectError(opts.host, opts.port, "ETIMEDOUT", `no connection within ${timeout} ms`));
    } catch (err) {
      plain.on("error", ignore);
      plain.destroy();
      if (err instanceof SmtpConnectError) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new SmtpConnectError(opts.host, opts.port, e.code ?? "EUNKNOWN", e.message);
    }
    let socket: net.Socket = plain;
    if (implicit) {
      const secure = tls.connect({ socket: plain, ...tlsSettings(opts, opts.host) });
      try {
        await settled(secure, "secureConnect", timeout, () => new SmtpTimeoutError(remote, "TLS handshake", timeout));
      } catch (err) {
        secure.on("error", ignore);
        secure.destroy();
        if (err instanceof SmtpTimeoutError) throw err;
        throw new SmtpTlsError(remote, (err as Error).message);
      }
      plain.on("error", ignore);
      socket = secure;
    }
    const session = new SmtpSession(socket, opts, transcript, plain);
    if (implicit) session.transcript?.info(`TLS established: ${describeTls(session.tlsInfo)}`);
    return session;
  }

  get closed(): boolean {
    return this.closeState !== null;
  }

  /** Replies received but not yet read (pipelining). */
  get queued(): number {
    return this.replies.length;
  }

  get tlsInfo(): TlsInfo | null {
    if (!(this.socket instanceof tls.TLSSocket)) return null;
    const c = this.socket.getCipher();
    return { protocol: this.socket.getProtocol(), cipher: c.name, authorized: this.socket.authorized };
  }

  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  /** Waits for the next complete reply. */
  readReply(timeoutMs: number = this.timeoutMs, what: Label = "reply"): Promise<Reply> {
    const queued = this.replies.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.protocolError !== null) return Promise.reject(this.protocolError);
    if (this.closeState !== null) return Promise.reject(this.disconnectedError(what));
    if (this.waiter !== null) return Promise.reject(new Error(`${this.remote}: readReply called while another read is pending`));
    return new Promise<Reply>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: null, what };
      if (timeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          if (this.waiter !== waiter) return;
          this.waiter = null;
          this.transcript?.info(`timeout after ${timeoutMs} ms waiting for ${label(what)}`);
          reject(new SmtpTimeoutError(this.remote, label(what), timeoutMs));
        }, timeoutMs);
      }
      this.waiter = waiter;
    });
  }

  /** Sends bytes exactly as given. Returns false when the socket buffer is full (see drain()). */
  write(data: string | Buffer): boolean {
    this.transcript?.client(data);
    this.owed.wrote(data);
    return this.socket.write(data);
  }

  writeLine(line: string): boolean {
    return this.write(line + "\r\n");
  }

  /** Writes several lines in one segment (PIPELINING, RFC 2920). */
  writeLines(lines: readonly string[]): boolean {
    return this.write(lines.map((l) => l + "\r\n").join(""));
  }

  /** Resolves once the socket buffer has room again (or immediately); with a timeout, a server that stops reading is an error. */
  async drain(timeoutMs = 0): Promise<void> {
    if (!this.socket.writableNeedDrain || this.closed) return;
    const drained = Promise.race([once(this.socket, "drain"), this.closedPromise()]);
    await withTimeout(drained, timeoutMs, () => new SmtpTimeoutError(this.remote, "the server to read what was sent", timeoutMs));
  }

  /** Not async: a load generator sends millions, and each async layer costs microtask turns. */
  command(line: string, timeoutMs: number = this.timeoutMs): Promise<Reply> {
    this.writeLine(line);
    return this.readReply(timeoutMs, () => `reply to ${verbOf(line)}`);
  }

  async ehlo(name: string, timeoutMs?: number): Promise<{ reply: Reply; capabilities: Capabilities }> {
    const reply = await this.command(`EHLO ${name}`, timeoutMs);
    return { reply, capabilities: Capabilities.fromEhlo(reply) };
  }

  /**
   * Sends a message body after a 354: line endings normalised to CRLF (unless raw), dot-stuffed,
   * terminated with CRLF.CRLF; resolves with the reply to the final dot.
   */
  async sendData(message: Buffer | string, options: { raw?: boolean; timeoutMs?: number } = {}): Promise<Reply> {
    const body = options.raw === true ? Buffer.from(message) : normalizeLineEndings(message);
    const encoded = encodeData(body);
    await this.writeLarge(encoded);
    return this.readReply(options.timeoutMs ?? this.timeoutMs, "reply to end of data");
  }

  /** Writes big payloads in slices, honouring backpressure, and records one transcript line for them. */
  async writeLarge(data: Buffer, sliceBytes = 256 * 1024): Promise<void> {
    if (data.length <= sliceBytes) {
      this.write(data);
      return;
    }
    this.transcript?.info(`sending ${data.length} bytes of message data`);
    for (let off = 0; off < data.length && !this.closed; off += sliceBytes) {
      const slice = data.subarray(off, off + sliceBytes);
      this.owed.wrote(slice);
      if (!this.socket.write(slice)) await this.drain();
    }
  }

  /** Upgrades to TLS after the server's 220 to STARTTLS. */
  async startTls(opts: TlsOptions = {}, timeoutMs: number = this.timeoutMs): Promise<TlsInfo> {
    if (this.socket instanceof tls.TLSSocket) throw new SmtpTlsError(this.remote, "TLS is already active");
    if (this.closed) throw this.disconnectedError("TLS handshake");
    const plain = this.socket;
    plain.off("data", onSocketData);
    if (this.reader.buffered > 0) {
      // Plaintext bytes after the 220 would be a server-side injection; keep them visible.
      this.transcript?.info(`${this.reader.buffered} unread plaintext bytes discarded at STARTTLS`);
    }
    this.reader = new LineReader();
    this.detach(plain);
    // The TLS socket reports the underlying socket's errors; this only keeps them from being unhandled.
    plain.on("error", ignore);
    const secure = tls.connect({ socket: plain, ...tlsSettings(opts, this.host) });
    try {
      await settled(secure, "secureConnect", timeoutMs, () => new SmtpTimeoutError(this.remote, "TLS handshake", timeoutMs));
    } catch (err) {
      secure.on("error", ignore);
      secure.destroy();
      this.markClosed(false, err as Error);
      if (err instanceof SmtpTimeoutError) throw err;
      throw new SmtpTlsError(this.remote, (err as Error).message);
    }
    this.socket = secure;
    this.attach(secure);
    const info = this.tlsInfo as TlsInfo;
    this.transcript?.info(`TLS established: ${describeTls(info)}`);
    return info;
  }

  /**
   * Waits for the server to close the connection. Replies that arrive first are returned
   * (e.g. a 421 before the close) so the caller can judge them.
   */
  async waitForClose(timeoutMs: number = this.timeoutMs): Promise<Reply[]> {
    if (this.closeState === null) {
      await withTimeout(this.closedPromise(), timeoutMs, () => {
        this.transcript?.info(`timeout after ${timeoutMs} ms waiting for disconnect`);
        return new SmtpTimeoutError(this.remote, "disconnect", timeoutMs);
      });
    }
    return this.replies.splice(0);
  }

  /** Polite end: QUIT, wait briefly for the 221, close. Never throws. */
  async quit(timeoutMs = Math.min(this.timeoutMs, 5_000)): Promise<Reply | null> {
    if (this.closed) return null;
    try {
      return await this.command("QUIT", timeoutMs);
    } catch {
      return null;
    } finally {
      this.close();
    }
  }

  /** Abrupt end: destroys the socket. */
  close(): void {
    if (this.closeState === null) this.transcript?.info("client closed the connection");
    this.socket.destroy();
    this.markClosed(false, null);
  }

  /** Ends with a TCP reset (RST) instead of a FIN, as a crashing client would. */
  reset(): void {
    this.transcript?.info("client reset the connection");
    this.tcp.resetAndDestroy();
    if (this.socket !== this.tcp) this.socket.destroy();
    this.markClosed(false, null);
  }

  private attach(socket: net.Socket): void {
    (socket as OwnedSocket)[OWNER] = this;
    socket.on("data", onSocketData);
    socket.on("error", onSocketError);
    socket.on("close", onSocketClose);
  }

  private detach(socket: net.Socket): void {
    socket.off("data", onSocketData);
    socket.off("error", onSocketError);
    socket.off("close", onSocketClose);
  }

  /** @internal the socket's "error" */
  socketError(err: NodeJS.ErrnoException): void {
    const reset = err.code === "ECONNRESET" || err.code === "EPIPE";
    this.transcript?.info(`socket error: ${err.code ?? err.message}`);
    this.markClosed(reset, err);
  }

  /** @internal the socket's "close" */
  socketClosed(): void {
    for (const line of this.reader.end()) this.acceptLine(line);
    if (this.closeState === null) this.transcript?.info("server closed the connection");
    this.markClosed(false, null);
  }

  /** @internal the socket's "data" */
  receive(chunk: Buffer): void {
    this.transcript?.server(chunk);
    // After a violation the stream cannot be trusted: keep no more of it than the transcript does.
    if (this.protocolError !== null) return;
    let lines;
    try {
      lines = this.reader.push(chunk);
    } catch (err) {
      if (err instanceof LineTooLongError) {
        this.fail(new SmtpProtocolError(err.message, ""));
        return;
      }
      throw err;
    }
    for (const line of lines) this.acceptLine(line);
  }

  private acceptLine(line: { text: string; ending: "CRLF" | "LF" | "CR" | "EOF" }): void {
    if (this.protocolError !== null) return;
    let reply: Reply | null;
    try {
      reply = this.parser.push(line);
    } catch (err) {
      if (err instanceof SmtpProtocolError) {
        this.fail(err);
        return;
      }
      throw err;
    }
    if (reply === null) return;
    const violation = this.owed.received(reply.code);
    if (violation !== null) {
      this.fail(new SmtpProtocolError(violation, firstLine(reply), "protocol violation"));
      return;
    }
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      if (w.timer !== null) clearTimeout(w.timer);
      w.resolve(reply);
    } else if (this.replies.length >= MAX_UNREAD_REPLIES) {
      this.fail(new SmtpProtocolError(`more than ${MAX_UNREAD_REPLIES} replies unread (the cap per session)`, firstLine(reply), "protocol violation"));
    } else {
      this.replies.push(reply);
    }
  }

  private fail(err: SmtpProtocolError): void {
    this.protocolError = err;
    this.transcript?.info(err.message);
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      if (w.timer !== null) clearTimeout(w.timer);
      w.reject(err);
    }
  }

  private markClosed(reset: boolean, error: Error | null): void {
    if (this.closeState !== null) {
      if (reset) this.closeState.reset = true;
      return;
    }
    this.closeState = { reset, error };
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      if (w.timer !== null) clearTimeout(w.timer);
      // Lines already buffered may still complete a reply at close (see onClose); only fail if not.
      queueMicrotask(() => {
        const r = this.replies.shift();
        if (r !== undefined) w.resolve(r);
        else if (this.protocolError !== null) w.reject(this.protocolError);
        else w.reject(this.disconnectedError(w.what));
      });
    }
    const waiters = this.closeWaiters;
    this.closeWaiters = null;
    if (waiters !== null) for (const cb of waiters) cb();
  }

  private closedPromise(): Promise<void> {
    if (this.closeState !== null) return Promise.resolve();
    return new Promise((resolve) => (this.closeWaiters ??= []).push(resolve));
  }

  private disconnectedError(what: Label): SmtpDisconnectedError {
    return new SmtpDisconnectedError(this.remote, label(what), this.closeState?.reset ?? false, this.parser.partial);
  }
}

function ignore(): void {}

// The socket's listeners are shared by every session, which the socket names: thousands of
// sessions held at once would otherwise each keep three closures.
const OWNER = Symbol("smtpchaos.session");
type OwnedSocket = net.Socket & { [OWNER]: SmtpSession };

function onSocketData(this: net.Socket, chunk: Buffer): void {
  (this as OwnedSocket)[OWNER].receive(chunk);
}

function onSocketError(this: net.Socket, err: NodeJS.ErrnoException): void {
  (this as OwnedSocket)[OWNER].socketError(err);
}

function onSocketClose(this: net.Socket): void {
  (this as OwnedSocket)[OWNER].socketClosed();
}

function firstLine(reply: Reply): string {
  return reply.raw.split("\n", 1)[0]?.trimEnd() ?? "";
}

function tlsSettings(opts: TlsOptions, host: string): tls.ConnectionOptions {
  const servername = opts.servername ?? (net.isIP(host) === 0 ? host : undefined);
  return {
    servername,
    rejectUnauthorized: opts.rejectUnauthorized ?? false,
    ca: opts.ca,
    minVersion: opts.minVersion,
  };
}

function describeTls(info: TlsInfo | null): string {
  if (info === null) return "none";
  return `${info.protocol ?? "?"} ${info.cipher}${info.authorized ? " (verified)" : " (unverified)"}`;
}

function verbOf(line: string): string {
  const m = /^\s*(\S+)(?:\s+(FROM|TO):)?/i.exec(line);
  if (m === null) return JSON.stringify(line);
  return m[2] !== undefined ? `${m[1]?.toUpperCase()} ${m[2].toUpperCase()}` : (m[1] ?? "").toUpperCase();
}

/**
 * Resolves on `event`, rejects on "error" or after `ms` (0: never): what `once()` in a
 * Promise.race with a timer does, in one promise and one timer (it runs once per connection,
 * and per TLS handshake, implicit or STARTTLS).
 */
function settled(emitter: net.Socket, event: string, ms: number, onTimeout: () => Error): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      emitter.off(event, onEvent);
      emitter.off("error", onError);
    };
    const onEvent = (): void => {
      done();
      resolve();
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    const timer = ms > 0 ? setTimeout(() => {
      done();
      reject(onTimeout());
    }, ms) : undefined;
    emitter.on(event, onEvent);
    emitter.on("error", onError);
  });
}

async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (ms <= 0) return p;
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
