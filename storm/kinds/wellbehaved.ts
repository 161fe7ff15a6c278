// The well-behaved storm client: nodemailer's SMTPConnection, the client of countless real
// applications. It does EHLO, STARTTLS when offered, PIPELINING, SIZE and 8BITMIME by itself;
// AUTH only when the server offers it and the storm has credentials.
import SMTPConnection from "nodemailer/lib/smtp-connection";
import type { SMTPConnectionSendInfo } from "nodemailer/lib/smtp-connection";
import { buildMessage, parseEnhanced, replyClass } from "../../smtp/index.js";
import type { Outcome, Reply, SessionResult } from "../../smtp/index.js";
import { CLIENT_NAME, SENDER, endpointFor } from "../endpoint.js";
import { defineKind, plainPlan } from "./kind.js";
import type { KindContext } from "./kind.js";

type NodemailerError = Error & { code?: string; originalCode?: string; responseCode?: number; command?: string };

export default defineKind({
  name: "wellbehaved",
  summary: "nodemailer's SMTP client: STARTTLS when offered, PIPELINING, AUTH when configured",
  basicPlus: true,
  // nodemailer hides its commands: the monkey cannot attribute its steps or its message ids.
  observable: false,
  plan: plainPlan,
  run: runWellBehaved,
  script: (plan, w) => w.session(plan, { pipelined: true, rsetBetween: true }),
});

async function runWellBehaved(ctx: KindContext): Promise<SessionResult> {
  const { plan, target } = ctx;
  const obs = ctx.client.observer ?? {};
  const t0 = ctx.client.scheduledAt ?? performance.now();
  const ep = endpointFor(plan, target, obs);
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
  // Errors also reach the callbacks; this listener only keeps them from being unhandled.
  conn.on("error", () => {});
  let accepted = 0;
  try {
    await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())));
    obs.timed?.("handshake", performance.now() - t0);
    if (!ep.implicit) obs.transport?.(conn.secure ? "starttls" : "plain");
    if (target.auth !== undefined && conn.allowsAuth) {
      await new Promise<void>((resolve, reject) => conn.login({ user: target.auth?.user, pass: target.auth?.pass }, (err) => (err ? reject(err) : resolve())));
      obs.transport?.("auth");
    }
    for (let tx = 0; tx < plan.transactions; tx++) {
      if (tx > 0) await new Promise<void>((resolve, reject) => conn.reset((err) => (err ? reject(err) : resolve())));
      const msg = buildMessage({ from: SENDER, to: [target.rcpt], size: plan.size, date: new Date(0) });
      const to = Array.from({ length: plan.rcpts }, () => target.rcpt);
      const info = await new Promise<SMTPConnectionSendInfo>((resolve, reject) =>
        conn.send({ from: SENDER, to, size: msg.data.length, use8BitMime: true }, msg.data, (err, i) => (err ? reject(err) : resolve(i as SMTPConnectionSendInfo))),
      );
      obs.timed?.("envelope", info.envelopeTime);
      obs.timed?.("dot", info.messageTime);
      const code = Number(/^\d{3}/.exec(info.response)?.[0] ?? 250);
      obs.reply?.("dot", replyOf(code, info.response));
      accepted++;
    }
    conn.quit();
    return { outcome: "ok", accepted };
  } catch (err) {
    const e = err as NodemailerError;
    if (typeof e.responseCode === "number") obs.reply?.(phaseOf(e.command), replyOf(e.responseCode, (e as { response?: string }).response ?? ""));
    return { outcome: classifyNodemailer(e), accepted };
  } finally {
    conn.close();
  }
}

/** nodemailer's reply line ("250 2.0.0 Ok") as a Reply for the observer. */
function replyOf(code: number, response: string): Reply {
  const text = response.slice(4);
  return { code, klass: replyClass(code), enhanced: parseEnhanced(code, text), lines: [text], text, raw: response, bareLineEnding: false };
}

function phaseOf(command: string | undefined): "mail" | "rcpt" | "data" | "dot" | "ehlo" | "tls" {
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
