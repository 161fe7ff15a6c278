// A session plan as a runnable smtpscript test-case: the same dialogue the storm session had,
// with every reply expected to be the graceful, successful one, so the script fails exactly
// where the server misbehaved.
import type { ReplyWant, ScriptFile, Statement, Str } from "../smtpscript/ast.js";
import { printScript } from "../smtpscript/print.js";
import { buildMessage, encodeData } from "../smtp/index.js";
import type { SessionPlan } from "./plan.js";
import { CLIENT_NAME, SENDER } from "./session.js";

const LOC = { file: "<storm>", line: 0, column: 0 };
const str = (text: string): Str => ({ parts: [text] });
const RCPT: Str = { parts: ["RCPT TO:<", { var: "rcpt" }, ">"] };
/** Bodies above this are sent with `send-message size N` instead of spelled out with `write`. */
const INLINE_BODY_MAX = 8 * 1024;

export interface ScriptInfo {
  rcpt: string;
  /** comment lines put on top (why this script exists, how to replay the storm) */
  comments: string[];
  name?: string;
}

export function planToScript(plan: SessionPlan, info: ScriptInfo): string {
  const st: Statement[] = [];
  const writeln = (t: string | Str): void => void st.push({ kind: "writeln", text: typeof t === "string" ? str(t) : t, loc: LOC });
  const write = (t: string): void => void st.push({ kind: "write", text: str(t), loc: LOC });
  const expect = (want: string): void => {
    const w: ReplyWant = want === "any" ? { kind: "any" } : want === "ok" || want === "helo" ? { kind: "class", klass: want } : { kind: "code", pattern: want };
    st.push({ kind: "expect-smtp", want: w, enhanced: null, match: null, loc: LOC });
  };
  const sleep = (ms: number): void => void st.push({ kind: "sleep", ms, loc: LOC });
  const slow = plan.kind === "slowloris";
  // Slowloris sends each line in chunks with pauses, as the storm session did.
  const line = (text: string): void => (slow ? dribble(text + "\r\n") : writeln(text));
  const rcpt = (): void => (slow ? dribble(`RCPT TO:<${info.rcpt}>\r\n`) : writeln(RCPT));
  const dribble = (data: string): void => {
    for (let off = 0; off < data.length; off += plan.chunk) {
      write(data.slice(off, off + plan.chunk));
      if (off + plan.chunk < data.length) sleep(plan.pauseMs);
    }
  };

  expect("220");
  line(`EHLO ${CLIENT_NAME}`);
  expect("helo");
  if (plan.tls === "starttls") {
    st.push({ kind: "starttls", loc: LOC });
    writeln(`EHLO ${CLIENT_NAME}`);
    expect("helo");
  }
  if (plan.kind === "hold") sleep(plan.holdMs);
  if (plan.kind === "garbage") {
    writeln("\x01\x02 not smtp " + "x".repeat(2000));
    expect("any");
  }
  const transactions = plan.kind === "hold" ? 0 : plan.transactions;
  const envelope = `MAIL FROM:<${SENDER}>\r\n` + `RCPT TO:<${info.rcpt}>\r\n`.repeat(plan.rcpts) + "DATA\r\n";
  // A pipelined session sends each message with the next envelope, or with QUIT after the last
  // one, as the storm session does.
  let envelopeSent = false;
  let quitSent = false;
  for (let tx = 0; tx < transactions; tx++) {
    const last = tx === transactions - 1;
    // RSET between transactions as the session sends it: always for "multi" (and nodemailer's
    // well-behaved client), never after a completed one otherwise.
    if (tx > 0 && (plan.kind === "multi" || plan.kind === "wellbehaved")) {
      writeln("RSET");
      expect("ok");
    }
    const msg = buildMessage({ from: SENDER, to: [info.rcpt], size: plan.size, id: "storm-shrunk", date: new Date(0) });
    if (plan.kind === "large" || (plan.size > INLINE_BODY_MAX && plan.kind !== "abort-data" && plan.kind !== "abort-after-dot")) {
      st.push({ kind: "send-message", from: str(SENDER), to: Array.from({ length: plan.rcpts }, () => ({ parts: [{ var: "rcpt" }] })), headers: [], body: null, size: plan.size, loc: LOC });
      expect("250");
      continue;
    }
    if (plan.kind === "pipelined" || plan.kind === "wellbehaved") {
      // One segment, as with PIPELINING; then the replies in order.
      if (!envelopeSent) write(envelope);
      envelopeSent = false;
      for (let i = 0; i < plan.rcpts + 1; i++) expect("ok");
      expect("354");
    } else {
      line(`MAIL FROM:<${SENDER}>`);
      expect("ok");
      if (plan.rcpts > 5) st.push({ kind: "repeat", count: plan.rcpts, body: [{ kind: "writeln", text: RCPT, loc: LOC }, { kind: "expect-smtp", want: { kind: "class", klass: "ok" }, enhanced: null, match: null, loc: LOC }], loc: LOC });
      else
        for (let i = 0; i < plan.rcpts; i++) {
          rcpt();
          expect("ok");
        }
      line("DATA");
      expect("354");
    }
    const data = encodeData(msg.data).toString("latin1");
    // The abort kinds abort their last transaction.
    if (plan.kind === "abort-data" && last) {
      write(msg.data.subarray(0, Math.floor(msg.data.length / 2)).toString("latin1"));
      st.push({ kind: "disconnect", name: null, loc: LOC });
      break;
    }
    if (plan.kind === "abort-after-dot" && last) {
      write(data);
      st.push({ kind: "disconnect", name: null, loc: LOC });
      break;
    }
    if (slow) {
      dribble(data.slice(0, 64));
      write(data.slice(64));
    } else if (plan.kind === "pipelined" && !last) {
      write(data + envelope);
      envelopeSent = true;
    } else if (plan.kind === "pipelined") {
      write(data + "QUIT\r\n");
      quitSent = true;
    } else write(data);
    expect("250");
  }
  if (quitSent) expect("221");
  else if (plan.kind !== "abort-data" && plan.kind !== "abort-after-dot") {
    writeln("QUIT");
    expect("221");
  }
  let body = st;
  if (plan.tls === "implicit") {
    // Implicit TLS needs its own connection; the default one only has to greet.
    body = [
      { kind: "expect-smtp", want: { kind: "code", pattern: "220" }, enhanced: null, match: null, loc: LOC },
      { kind: "connect", name: "storm", tls: "implicit", loc: LOC },
      { kind: "on", name: "storm", body: st, loc: LOC },
    ];
  }
  const file: ScriptFile = {
    items: [
      { kind: "set", name: "rcpt", value: str(info.rcpt), loc: LOC },
      { kind: "test-case", name: info.name ?? "storm.shrunk", skip: null, requires: [], requiresFaults: [], body, loc: LOC },
    ],
  };
  return info.comments.map((c) => `# ${c.replace(/[\r\n]+/g, " ")}\n`).join("") + printScript(file);
}
