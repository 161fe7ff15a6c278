// Typed failures of an SMTP session. Every one names the peer and what we were waiting for,
// because "timeout" alone is useless in a CI log.
import { visible } from "../common/visible.js";

export type SmtpErrorKind = "connect" | "timeout" | "disconnect" | "tls" | "protocol";

export abstract class SmtpError extends Error {
  abstract readonly kind: SmtpErrorKind;
}

export class SmtpConnectError extends SmtpError {
  readonly kind = "connect";
  constructor(
    readonly host: string,
    readonly port: number,
    /** errno code such as ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT */
    readonly code: string,
    detail?: string,
  ) {
    super(`cannot connect to ${formatHostPort(host, port)}: ${code}${detail !== undefined && detail !== code ? ` (${detail})` : ""}`);
    this.name = "SmtpConnectError";
  }
}

export class SmtpTimeoutError extends SmtpError {
  readonly kind = "timeout";
  constructor(
    readonly remote: string,
    /** e.g. "banner", "reply to MAIL", "disconnect" */
    readonly waitingFor: string,
    readonly ms: number,
  ) {
    super(`${remote}: timed out after ${ms} ms waiting for ${waitingFor}`);
    this.name = "SmtpTimeoutError";
  }
}

export class SmtpDisconnectedError extends SmtpError {
  readonly kind = "disconnect";
  constructor(
    readonly remote: string,
    readonly waitingFor: string,
    /** true when the connection was reset (ECONNRESET/EPIPE) rather than closed with FIN */
    readonly reset: boolean,
    /** bytes of an unfinished reply that arrived before the close, if any */
    readonly partial: string,
  ) {
    const how = reset ? "reset the connection" : "closed the connection";
    super(`${remote}: server ${how} while waiting for ${waitingFor}${partial !== "" ? ` (unfinished reply: ${visible(JSON.stringify(partial))})` : ""}`);
    this.name = "SmtpDisconnectedError";
  }
}

export class SmtpTlsError extends SmtpError {
  readonly kind = "tls";
  constructor(
    readonly remote: string,
    readonly reason: string,
  ) {
    super(`${remote}: TLS failed: ${reason}`);
    this.name = "SmtpTlsError";
  }
}

/** The server broke the reply syntax of RFC 5321 section 4.2, or replied out of turn. */
export class SmtpProtocolError extends SmtpError {
  readonly kind = "protocol";
  constructor(
    readonly reason: string,
    /** the offending line, as received */
    readonly line: string,
    /** what kind of violation: a reply that does not parse, or one out of turn */
    what: "malformed reply" | "protocol violation" = "malformed reply",
  ) {
    super(`${what}: ${reason}${line !== "" ? `: ${visible(JSON.stringify(line))}` : ""}`);
    this.name = "SmtpProtocolError";
  }
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
