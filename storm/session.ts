// One storm session over the shared wire layer, timed phase by phase. Replies are judged here
// only by their class; all parsing is the wire layer's.
import { SmtpSession, SmtpError, SmtpConnectError, SmtpDisconnectedError, buildMessage, encodeData } from "../smtp/index.js";
import type { Reply } from "../smtp/index.js";
import type { Metrics, Outcome, Phase } from "./metrics.js";
import type { SessionPlan } from "./plan.js";

export interface SessionTarget {
  host: string;
  port: number;
  rcpt: string;
  timeoutMs: number;
}

/** The server refused with a reply: the session ends gracefully with that class. */
class Refused extends Error {
  constructor(readonly reply: Reply) {
    super(`${reply.code} ${reply.text}`);
  }
}

export async function runSession(plan: SessionPlan, target: SessionTarget, m: Metrics): Promise<Outcome> {
  let accepted = 0;
  let session: SmtpSession | null = null;
  m.sessionStarted();
  let outcome: Outcome;
  const timed = async (phase: Phase, fn: () => Promise<Reply>, ok: (r: Reply) => boolean): Promise<Reply> => {
    const t0 = performance.now();
    const r = await fn();
    m.phase(phase, performance.now() - t0);
    m.code(phase, r.code);
    if (!ok(r)) throw new Refused(r);
    return r;
  };
  const positive = (r: Reply): boolean => r.klass === "ok";
  try {
    const t0 = performance.now();
    session = await SmtpSession.connect({ host: target.host, port: target.port, timeoutMs: target.timeoutMs, transcript: null });
    m.phase("connect", performance.now() - t0);
    const s = session;
    await timed("banner", () => s.readReply(undefined, "banner"), (r) => r.code === 220);
    const { capabilities } = await (async () => {
      const t = performance.now();
      const e = await s.ehlo("storm.client.example");
      m.phase("ehlo", performance.now() - t);
      m.code("ehlo", e.reply.code);
      if (e.reply.code !== 250) throw new Refused(e.reply);
      return e;
    })();
    if (plan.starttls && capabilities.has("STARTTLS")) {
      const t = performance.now();
      const r = await s.command("STARTTLS");
      m.code("tls", r.code);
      if (r.code !== 220) throw new Refused(r);
      await s.startTls();
      m.phase("tls", performance.now() - t);
      await s.ehlo("storm.client.example");
    }
    if (plan.kind === "garbage") {
      // Garbage and an overlong line: the server must answer 5xx and keep going.
      await timed("mail", () => s.command("\x01\x02 not smtp " + "x".repeat(2000)), () => true);
    }
    for (let tx = 0; tx < plan.transactions; tx++) {
      if (tx > 0) await timed("mail", () => s.command("RSET"), positive);
      const msg = buildMessage({ from: "storm@client.example", to: [target.rcpt], size: plan.size, date: new Date(0) });
      if (plan.kind === "pipelined" && capabilities.has("PIPELINING")) {
        const t = performance.now();
        s.writeLines(["MAIL FROM:<storm@client.example>", ...Array.from({ length: plan.rcpts }, () => `RCPT TO:<${target.rcpt}>`), "DATA"]);
        const mail = await s.readReply();
        m.phase("mail", performance.now() - t);
        m.code("mail", mail.code);
        const rcpts: Reply[] = [];
        for (let i = 0; i < plan.rcpts; i++) rcpts.push(await s.readReply());
        m.phase("rcpt", performance.now() - t);
        for (const r of rcpts) m.code("rcpt", r.code);
        const data = await s.readReply();
        m.phase("data", performance.now() - t);
        m.code("data", data.code);
        if (!positive(mail)) throw new Refused(mail);
        const bad = rcpts.find((r) => !positive(r));
        if (bad !== undefined) throw new Refused(bad);
        if (data.code !== 354) throw new Refused(data);
      } else {
        await timed("mail", () => s.command("MAIL FROM:<storm@client.example>"), positive);
        for (let i = 0; i < plan.rcpts; i++) await timed("rcpt", () => s.command(`RCPT TO:<${target.rcpt}>`), positive);
        await timed("data", () => s.command("DATA"), (r) => r.code === 354);
      }
      if (plan.kind === "abort-data") {
        // Half the message, then a reset: the server must not deliver it.
        await s.writeLarge(msg.data.subarray(0, Math.floor(msg.data.length / 2)));
        s.reset();
        break;
      }
      if (plan.kind === "abort-after-dot") {
        // The whole message and the final dot, then a reset before the 250 can be read.
        await s.writeLarge(encodeData(msg.data));
        s.reset();
        break;
      }
      await timed("dot", () => s.sendData(msg.data), positive);
      accepted++;
    }
    if (plan.kind === "abort-data" || plan.kind === "abort-after-dot") {
      outcome = "aborted";
    } else {
      await s.quit();
      outcome = "ok";
    }
  } catch (err) {
    outcome = classify(err);
  } finally {
    session?.close();
  }
  m.sessionEnded(outcome, accepted);
  return outcome;
}

function classify(err: unknown): Outcome {
  if (err instanceof Refused) return err.reply.klass === "tempfail" ? "tempfail" : "permfail";
  if (err instanceof SmtpConnectError) return err.code === "ETIMEDOUT" ? "timeout" : "refused";
  if (err instanceof SmtpDisconnectedError) return err.reset ? "reset" : "closed";
  if (err instanceof SmtpError) return err.kind === "timeout" ? "timeout" : err.kind === "tls" ? "tls" : "protocol";
  throw err;
}
