// A session plan as a runnable smtpscript test-case: the same dialogue the storm session had,
// with every reply expected to be the graceful, successful one, so the script fails exactly
// where the server misbehaved. Each kind renders itself (storm/kinds/) with this writer.
import type { ReplyWant, ScriptFile, Statement, Str } from "../smtpscript/ast.js";
import { printScript } from "../smtpscript/print.js";
import { buildMessage, encodeData } from "../smtp/index.js";
import type { SessionPlan } from "./kinds/kind.js";
import { kindUnit } from "./kinds/index.js";
import { CLIENT_NAME, SENDER } from "./endpoint.js";

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

/** How a kind's dialogue differs from a basic session's. */
export interface DialogueShape {
  /** command lines and the head of each message in chunks with pauses (slowloris) */
  dribble?: boolean;
  /** the envelope as one segment, then its replies (RFC 2920) */
  pipelined?: boolean;
  /** pipelined and each message sent with the next envelope, or with the QUIT after the last */
  chained?: boolean;
  /** RSET between every two transactions */
  rsetBetween?: boolean;
  /** the last transaction is aborted: half its message ("data") or all of it ("after-dot"), then a disconnect */
  abortLast?: "data" | "after-dot";
  /** every message with send-message (a large one) */
  sendMessage?: boolean;
  /** what the session does between EHLO and its first transaction */
  afterGreeting?(): void;
  transactions?: number;
}

export class ScriptWriter {
  readonly statements: Statement[] = [];

  constructor(private readonly info: ScriptInfo) {}

  writeln(t: string | Str): void {
    this.statements.push({ kind: "writeln", text: typeof t === "string" ? str(t) : t, loc: LOC });
  }

  write(t: string): void {
    this.statements.push({ kind: "write", text: str(t), loc: LOC });
  }

  expect(want: string): void {
    const w: ReplyWant = want === "any" ? { kind: "any" } : want === "ok" || want === "helo" ? { kind: "class", klass: want } : { kind: "code", pattern: want };
    this.statements.push({ kind: "expect-smtp", want: w, enhanced: null, match: null, loc: LOC });
  }

  sleep(ms: number): void {
    this.statements.push({ kind: "sleep", ms, loc: LOC });
  }

  /** The whole session of `plan`, shaped as the kind says. */
  session(plan: SessionPlan, shape: DialogueShape = {}): void {
    const rcptName = this.info.rcpt;
    const dribble = (data: string): void => {
      for (let off = 0; off < data.length; off += plan.chunk) {
        this.write(data.slice(off, off + plan.chunk));
        if (off + plan.chunk < data.length) this.sleep(plan.pauseMs);
      }
    };
    const line = (text: string): void => (shape.dribble === true ? dribble(text + "\r\n") : this.writeln(text));
    const rcpt = (): void => (shape.dribble === true ? dribble(`RCPT TO:<${rcptName}>\r\n`) : this.writeln(RCPT));

    this.expect("220");
    line(`EHLO ${CLIENT_NAME}`);
    this.expect("helo");
    if (plan.tls === "starttls") {
      // STARTTLS, its 220 and the handshake (the bare `starttls` statement is the handshake only).
      this.statements.push({ kind: "upgrade-tls", loc: LOC });
      this.writeln(`EHLO ${CLIENT_NAME}`);
      this.expect("helo");
    }
    shape.afterGreeting?.();
    const transactions = shape.transactions ?? plan.transactions;
    const envelope = `MAIL FROM:<${SENDER}>\r\n` + `RCPT TO:<${rcptName}>\r\n`.repeat(plan.rcpts) + "DATA\r\n";
    let envelopeSent = false;
    let quitSent = false;
    for (let tx = 0; tx < transactions; tx++) {
      const last = tx === transactions - 1;
      if (tx > 0 && shape.rsetBetween === true) {
        this.writeln("RSET");
        this.expect("ok");
      }
      const msg = buildMessage({ from: SENDER, to: [rcptName], size: plan.size, id: "storm-shrunk", date: new Date(0) });
      if (shape.sendMessage === true || (plan.size > INLINE_BODY_MAX && shape.abortLast === undefined)) {
        this.statements.push({ kind: "send-message", from: str(SENDER), to: Array.from({ length: plan.rcpts }, () => ({ parts: [{ var: "rcpt" }] })), headers: [], body: null, size: plan.size, loc: LOC });
        this.expect("250");
        continue;
      }
      if (shape.pipelined === true) {
        if (!envelopeSent) this.write(envelope);
        envelopeSent = false;
        for (let i = 0; i < plan.rcpts + 1; i++) this.expect("ok");
        this.expect("354");
      } else {
        line(`MAIL FROM:<${SENDER}>`);
        this.expect("ok");
        if (plan.rcpts > 5) {
          const body: Statement[] = [{ kind: "writeln", text: RCPT, loc: LOC }, { kind: "expect-smtp", want: { kind: "class", klass: "ok" }, enhanced: null, match: null, loc: LOC }];
          this.statements.push({ kind: "repeat", count: plan.rcpts, body, loc: LOC });
        } else
          for (let i = 0; i < plan.rcpts; i++) {
            rcpt();
            this.expect("ok");
          }
        line("DATA");
        this.expect("354");
      }
      const data = encodeData(msg.data).toString("latin1");
      if (last && shape.abortLast !== undefined) {
        this.write(shape.abortLast === "data" ? msg.data.subarray(0, Math.floor(msg.data.length / 2)).toString("latin1") : data);
        this.statements.push({ kind: "disconnect", name: null, loc: LOC });
        break;
      }
      if (shape.dribble === true) {
        dribble(data.slice(0, 64));
        this.write(data.slice(64));
      } else if (shape.chained === true && !last) {
        this.write(data + envelope);
        envelopeSent = true;
      } else if (shape.chained === true) {
        this.write(data + "QUIT\r\n");
        quitSent = true;
      } else this.write(data);
      this.expect("250");
    }
    if (quitSent) this.expect("221");
    else if (shape.abortLast === undefined) {
      this.writeln("QUIT");
      this.expect("221");
    }
  }
}

export function planToScript(plan: SessionPlan, info: ScriptInfo): string {
  const w = new ScriptWriter(info);
  kindUnit(plan.kind).script(plan, w);
  let body = w.statements;
  if (plan.tls === "implicit") {
    // Implicit TLS needs its own connection; the default one only has to greet.
    body = [
      { kind: "expect-smtp", want: { kind: "code", pattern: "220" }, enhanced: null, match: null, loc: LOC },
      { kind: "connect", name: "storm", tls: "implicit", loc: LOC },
      { kind: "on", name: "storm", body, loc: LOC },
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
