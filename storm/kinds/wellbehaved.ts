// The well-behaved storm client: nodemailer's SMTPConnection, the client of countless real
// applications. It does EHLO, STARTTLS when offered, PIPELINING, SIZE and 8BITMIME by itself;
// AUTH only when the server offers it and the storm has credentials.
import { onCut } from "../cut.js";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import type { SMTPConnectionSendInfo } from "nodemailer/lib/smtp-connection";
import { PreparedMessage, SmtpConnectError, SmtpDisconnectedError, SmtpProtocolError, SmtpTimeoutError, SmtpTlsError, formatHostPort, generatedBody, parseEnhanced, replyClass } from "../../smtp/index.js";
import type { Outcome, Reply, SessionResult, SmtpError, Step } from "../../smtp/index.js";
import { CLIENT_NAME } from "../endpoint.js";
import { defineKind, plainPlan } from "./kind.js";
import type { KindContext } from "./kind.js";

type NodemailerError = Error & { code?: string; originalCode?: string; responseCode?: number; command?: string };

export default defineKind({
  name: "wellbehaved",
  summary: "nodemailer's SMTP client: STARTTLS when offered, PIPELINING, AUTH when configured",
  basicPlus: true,
  plan: plainPlan,
  run: runWellBehaved,
  script: (plan, w) => w.session(plan, { pipelined: true, rsetBetween: true }),
});

async function runWellBehaved(ctx: KindContext): Promise<SessionResult> {
  const { plan, target } = ctx;
  const obs = ctx.client.observer ?? {};
  const t0 = ctx.client.scheduledAt ?? performance.now();
  // The endpoint the plan chose (storm/endpoint.ts planClient), already counted there.
  const ep = { host: ctx.client.host, port: ctx.client.port, implicit: ctx.client.implicitTls === true };
  const conn = new SMTPConnection({
    host: ep.host,
    port: ep.port,
    secure: ep.implicit,
    name: CLIENT_NAME,
    connectionTimeout: target.timeoutMs,
    greetingTimeout: target.timeoutMs,
    socketTimeout: target.timeoutMs,
    // Test servers use self-signed certificates; loopback is the only place storms go by default.
    tls: { rejectUnauthorized: false },
    allowInternalNetworkInterfaces: true,
    logger: false,
  });
  // Errors of commands also reach their callbacks; those while connecting (refused, TLS, DNS)
  // reach only this event in nodemailer: without it a refused connection never ends.
  let connectFailed: (err: Error) => void = () => {};
  conn.on("error", (err: Error) => connectFailed(err));
  const stopWaiting = ctx.signal === undefined ? () => {} : onCut(ctx.signal, () => conn.close());
  let accepted = 0;
  let connected = false;
  try {
    await new Promise<void>((resolve, reject) => {
      connectFailed = reject;
      conn.connect((err) => (err ? reject(err) : resolve()));
    });
    connectFailed = () => {};
    connected = true;
    obs.timed?.("handshake", performance.now() - t0);
    if (!ep.implicit) obs.transport?.(conn.secure ? "starttls" : "plain");
    if (target.auth !== undefined && conn.allowsAuth) {
      await new Promise<void>((resolve, reject) => conn.login({ user: target.auth?.user, pass: target.auth?.pass }, (err) => (err ? reject(err) : resolve())));
      obs.transport?.("auth");
    }
    for (let tx = 0; tx < plan.transactions; tx++) {
      if (tx > 0) await new Promise<void>((resolve, reject) => conn.reset((err) => (err ? reject(err) : resolve())));
      obs.begin?.(tx);
      const t = ctx.mail.transaction(tx, plan.rcpts, plan.size);
      // nodemailer asks for the message before MAIL: a message refused before DATA keeps its id unsent.
      const m = t.message();
      const data = m instanceof PreparedMessage ? m.data : Buffer.concat([m.head, generatedBody(m.size)]);
      const info = await new Promise<SMTPConnectionSendInfo>((resolve, reject) =>
        conn.send({ from: t.from, to: [...t.to], size: data.length, use8BitMime: true }, data, (err, i) => (err ? reject(err) : resolve(i as SMTPConnectionSendInfo))),
      );
      obs.timed?.("envelope", info.envelopeTime);
      obs.timed?.("dot", info.messageTime);
      const code = Number(/^\d{3}/.exec(info.response)?.[0] ?? 250);
      obs.dot?.(tx);
      obs.reply?.("dot", replyOf(code, info.response));
      accepted++;
    }
    conn.quit();
    return { outcome: "ok", accepted };
  } catch (err) {
    const e = err as NodemailerError;
    const outcome = classifyNodemailer(e);
    // nodemailer does not say whether the final dot went out: an error at DATA or of no command
    // counts as after the dot (ambiguous: at most one delivery), the others as before it.
    const step = e.command === undefined ? (connected ? "dot" : "connect") : phaseOf(e.command);
    if (step === "dot") obs.dot?.(plan.transactions - 1);
    if (typeof e.responseCode === "number") obs.reply?.(step, replyOf(e.responseCode, (e as { response?: string }).response ?? ""));
    else obs.failed?.(step, asWireError(e, outcome, ep));
    return { outcome, accepted };
  } finally {
    stopWaiting();
    conn.close();
  }
}

/** nodemailer's error as the wire layer's, for observers that judge by error kind (the monkey's oracle). */
function asWireError(e: NodemailerError, outcome: Outcome, ep: { host: string; port: number }): SmtpError {
  const remote = formatHostPort(ep.host, ep.port);
  switch (outcome) {
    case "timeout":
      return new SmtpTimeoutError(remote, e.command ?? "a reply", 0);
    case "tls":
      return new SmtpTlsError(remote, e.message);
    case "refused":
    case "local":
      return new SmtpConnectError(ep.host, ep.port, e.originalCode ?? e.code ?? "ECONNREFUSED", e.message);
    case "reset":
    case "closed":
      return new SmtpDisconnectedError(remote, e.command ?? "a reply", outcome === "reset", "");
    default:
      return new SmtpProtocolError(e.message, "", "protocol violation");
  }
}

/** nodemailer's reply line ("250 2.0.0 Ok") as a Reply for the observer. */
function replyOf(code: number, response: string): Reply {
  const text = response.slice(4);
  return { code, klass: replyClass(code), enhanced: parseEnhanced(code, text), lines: [text], text, raw: response, bareLineEnding: false };
}

function phaseOf(command: string | undefined): Step {
  if (command === "MAIL FROM") return "mail";
  if (command === "RCPT TO") return "rcpt";
  if (command === "DATA") return "dot";
  if (command === "STARTTLS") return "tls";
  return "ehlo";
}

/** nodemailer's error codes mapped onto the storm's outcome taxonomy. */
export function classifyNodemailer(e: NodemailerError): Outcome {
  if (typeof e.responseCode === "number") {
    if (e.responseCode >= 400) return e.responseCode < 500 ? "tempfail" : "permfail";
    // nodemailer stopped on a 2xx/3xx: the wrong class for the step (250 to DATA), not a refusal.
    return "protocol";
  }
  switch (e.code) {
    case "ETIMEDOUT":
      return "timeout";
    case "ETLS":
      return "tls";
    case "EPROTOCOL":
      return "protocol";
    case "ECONNECTION":
    case "ESOCKET":
      if (e.originalCode === "EMFILE" || e.originalCode === "ENFILE" || e.originalCode === "EADDRNOTAVAIL") return "local";
      if (e.originalCode === "ECONNREFUSED") return "refused";
      if (e.originalCode === "ECONNRESET" || e.originalCode === "EPIPE") return "reset";
      if (e.originalCode === "ETIMEDOUT") return "timeout";
      return "closed";
    case "EMESSAGE":
    case "EENVELOPE":
      // Refused by the client from the server's own declaration (SIZE limit): a graceful refusal.
      return "permfail";
    case "EAUTH":
      return "protocol";
    default:
      throw new Error(`well-behaved session: unexpected client error ${e.code ?? ""}: ${e.message}`, { cause: e });
  }
}
