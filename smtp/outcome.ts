// How an SMTP client session ended: one taxonomy for every tool that sends mail (storm's
// metrics, the monkey's flood, the benches), decided from the typed errors of the wire layer.
import type { Reply } from "./reply.js";
import { SmtpConnectError, SmtpDisconnectedError, SmtpError } from "./errors.js";

/**
 * ok: every transaction accepted; tempfail/permfail: the server refused with 4xx/5xx
 * (graceful); aborted: the client dropped it on purpose; closed-after-refusal: the client broke
 * the protocol on purpose (a line that is not SMTP), the server answered 5xx and closed (RFC 5321
 * 7.8 allows it: graceful); refused/reset/closed/timeout/tls/protocol: the server broke the
 * session; local: this machine could not open the socket (EMFILE fd limit, EADDRNOTAVAIL out of
 * ports), not the server's fault.
 */
export const OUTCOMES = ["ok", "tempfail", "permfail", "aborted", "closed-after-refusal", "refused", "reset", "closed", "timeout", "tls", "protocol", "local"] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Outcomes that mean the server failed without a proper SMTP reply. */
export const UNGRACEFUL: readonly Outcome[] = ["refused", "reset", "closed", "timeout", "tls", "protocol"];

/**
 * The server refused a step with a reply: the session ends gracefully with that class, or,
 * when it has transactions left, resets and goes on (and ends with that class).
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
    this.name = "Refused";
  }
}

/** Connect errors that are this machine's limits, not the server's behaviour. */
const LOCAL_ERRORS = new Set(["EMFILE", "ENFILE", "EADDRNOTAVAIL", "ENOBUFS"]);

/** A reset while connecting: the server accepted the connection, then dropped it. */
export const RESET_ERRORS: ReadonlySet<string> = new Set(["ECONNRESET", "EPIPE"]);

/** The outcome a refusal or a wire error stands for; anything else is a bug and is rethrown. */
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
