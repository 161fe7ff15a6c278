// The oracle: judges one SMTP session by what the client saw. Under faults an MTA may defer
// (4xx; a 421 then closes), but it must not answer 5xx to a transient fault, drop the connection
// without a reply, send garbage or hang. Session records are built by the flood from smtp/
// replies and errors; nothing here parses SMTP.
import type { Reply, SmtpErrorKind, Step } from "../smtp/index.js";
import { describeCrash } from "../targets/target.js";
import type { CrashInfo } from "../targets/target.js";
import { excusedBy } from "./layers/registry.js";

/** The engine's steps as the oracle judges them (flood.ts maps the rest: TLS to the greeting, an RSET to the next envelope). */
export type StepName = Exclude<Step, "tls" | "rset" | "command" | "garbage">;

export interface StepResult {
  step: StepName;
  /** the reply to this step (for "dot": the reply after the final dot) */
  reply?: Pick<Reply, "code" | "text">;
  error?: { kind: SmtpErrorKind; message: string; reset?: boolean };
}

export interface SessionRecord {
  /** ms since epoch */
  startedAt: number;
  endedAt: number;
  /** our source port, when connected (exact attribution of faults that know their connection) */
  clientPort?: number;
  /** ledger id of the message the session tried to send, if it got that far */
  messageId: string | null;
  steps: StepResult[];
  /** after a 421 the client waits for the close: what happened */
  after421?: "closed" | "open";
  /** fault points that fired while this session ran (attributed by time or context) */
  faults: string[];
  /** of them, those that paused or killed the very process serving this session: the toolkit's own doing */
  selfInflicted?: string[];
  /** the client sent a line that is not SMTP on purpose and the server refused it with 5xx: it may then close (RFC 5321 7.8) */
  refusedViolation?: boolean;
}

/** How the oracle judged a session: the wire outcome (smtp/outcome.ts) folded into what a
 * fault test cares about (every ungraceful end is one class), plus hang, unreachable and crash. */
export type JudgedOutcome = "ok" | "tempfail" | "permfail" | "ungraceful" | "hang" | "unreachable" | "crash";

export type FindingKind =
  | "permfail-under-fault"
  | "permfail-clean"
  | "close-without-reply"
  | "reset-without-reply"
  | "malformed-reply"
  | "protocol-violation"
  | "421-without-close"
  | "tls-failure"
  | "hang"
  | "unreachable"
  | "crash";

export interface Verdict {
  outcome: JudgedOutcome;
  /** null when the outcome is acceptable (ok, graceful tempfail) */
  finding: FindingKind | null;
  /** the step that decided the verdict */
  step: StepName | null;
  detail: string;
  /** the client wrote the final dot */
  dotSent: boolean;
  /** 250 after the final dot */
  accepted: boolean;
  /** what the ledger should record for the message */
  dotResult: "not-sent" | "accepted" | "rejected" | "ambiguous";
  /** a finding one of the session's own faults caused on purpose, excused (the outcome stands) */
  excused: FindingKind | null;
}

/** What a session cannot help when the toolkit paused or killed the process serving it. */
const SELF_INFLICTED: readonly FindingKind[] = ["reset-without-reply", "close-without-reply", "hang", "tls-failure"];

const SEVERITY: Record<JudgedOutcome, number> = { ok: 0, tempfail: 1, permfail: 2, ungraceful: 3, hang: 4, unreachable: 5, crash: 6 };

export interface JudgeOptions {
  /** the target's crash, if any; a session overlapping it (plus graceMs) is judged "crash" when it failed */
  crash?: CrashInfo | null;
  graceMs?: number;
  /** the flood sends only valid mail, so by default any 5xx is a finding; set to false for mixes with bad mail */
  cleanPermfailIsFinding?: boolean;
}

/**
 * Judges one session. Pure: the same record always gets the same verdict. A finding that one of
 * the session's faults causes on purpose (our own proxy cut or stalled it: the layers declare
 * which) is not the server's doing: the outcome stands, the finding does not.
 */
export function judge(rec: SessionRecord, opts: JudgeOptions = {}): Verdict {
  let excusedFinding: FindingKind | null = null;
  const excused = (f: FindingKind): FindingKind | null => {
    const self = (rec.selfInflicted?.length ?? 0) > 0 && SELF_INFLICTED.includes(f);
    if (!self && !rec.faults.some((p) => excusedBy(p).includes(f))) return f;
    excusedFinding = f;
    return null;
  };
  let best: Verdict = { outcome: "ok", finding: null, step: null, detail: "", dotSent: false, accepted: false, dotResult: "not-sent", excused: null };
  let dotSent = false;
  let accepted = false;
  let dotResult: Verdict["dotResult"] = "not-sent";
  let saw421 = false;
  const worse = (outcome: JudgedOutcome, finding: FindingKind | null, step: StepName, detail: string): void => {
    if (SEVERITY[outcome] > SEVERITY[best.outcome]) best = { ...best, outcome, finding, step, detail };
  };
  for (const s of rec.steps) {
    if (s.step === "dot") {
      dotSent = true;
      dotResult = "ambiguous";
    }
    if (s.error !== undefined) {
      const e = s.error;
      switch (e.kind) {
        case "protocol":
          // A reply that does not parse, or one out of turn (unsolicited, the wrong class for the step).
          worse("ungraceful", e.message.startsWith("malformed reply") ? "malformed-reply" : "protocol-violation", s.step, e.message);
          break;
        case "timeout":
          worse("hang", excused("hang"), s.step, e.message);
          break;
        case "connect":
          // Accepted, then reset: the server dropped a client it had taken, without a 421.
          if (e.reset === true) worse("ungraceful", excused("reset-without-reply"), s.step, e.message);
          else worse("unreachable", excused("unreachable"), s.step, e.message);
          break;
        case "tls":
          worse("ungraceful", excused("tls-failure"), s.step, e.message);
          break;
        case "disconnect":
          // After a 421 the close is the expected end; so is a close after our QUIT got its 221,
          // and one after the server refused a line of ours that was not SMTP (RFC 5321 7.8).
          if (rec.refusedViolation === true && !saw421) worse("permfail", null, s.step, `closed after refusing the client's protocol violation with 5xx (RFC 5321 7.8 allows it): ${e.message}`);
          else if (!saw421) worse("ungraceful", excused(e.reset === true ? "reset-without-reply" : "close-without-reply"), s.step, e.message);
          break;
      }
      break;
    }
    const r = s.reply;
    if (r === undefined) continue;
    if (s.step === "dot") {
      accepted = r.code >= 200 && r.code < 300;
      dotResult = accepted ? "accepted" : "rejected";
    }
    if (r.code === 421) {
      saw421 = true;
      if (rec.after421 === "open") worse("ungraceful", "421-without-close", s.step, `421 at ${s.step} but the server kept the connection open: ${r.text}`);
      else worse("tempfail", null, s.step, `${r.code} at ${s.step}: ${r.text}`);
    } else if (r.code >= 400 && r.code < 500) {
      worse("tempfail", null, s.step, `${r.code} at ${s.step}: ${r.text}`);
    } else if (r.code >= 500) {
      const underFault = rec.faults.length > 0;
      const finding: FindingKind | null = underFault ? "permfail-under-fault" : opts.cleanPermfailIsFinding === false ? null : "permfail-clean";
      worse("permfail", finding, s.step, `${r.code} at ${s.step}${underFault ? ` while ${[...new Set(rec.faults)].join(", ")} fired` : ""}: ${r.text}`);
    }
  }
  const crash = opts.crash ?? null;
  if (crash !== null && best.outcome !== "ok" && best.outcome !== "tempfail" && crash.at <= rec.endedAt + (opts.graceMs ?? 2000)) {
    best = { ...best, outcome: "crash", finding: "crash", detail: `target crashed (${describeCrash(crash)}); session: ${best.detail}` };
  }
  return { ...best, dotSent, accepted, dotResult, excused: best.finding === null && best.outcome !== "ok" && best.outcome !== "tempfail" ? excusedFinding : null };
}

/**
 * The lines around the fatal line the target's own crash patterns matched (its CrashInfo.line):
 * the evidence a crash report shows. Which lines are fatal is the target's knowledge, not ours;
 * without such a line (a crash seen as an exit) the tail is shown.
 */
export function crashContext(lines: readonly string[], fatal: string | null, before = 10, after = 5): { fatal: string | null; context: string[] } {
  const i = fatal === null ? -1 : lines.lastIndexOf(fatal);
  if (i < 0) return { fatal, context: lines.slice(-before) };
  return { fatal, context: lines.slice(Math.max(0, i - before), i + after + 1) };
}

/** One finding kept as an example for the report. */
export interface FindingSample {
  finding: FindingKind;
  detail: string;
  faults: string[];
  messageId: string | null;
  /** the tail of the session transcript, when the flood kept one */
  transcript?: string;
}

/** Running tallies of verdicts, overall and per fault point, with a bounded sample of findings. */
export class OutcomeTally {
  readonly total: Record<JudgedOutcome, number> = { ok: 0, tempfail: 0, permfail: 0, ungraceful: 0, hang: 0, unreachable: 0, crash: 0 };
  readonly findings: Partial<Record<FindingKind, number>> = {};
  readonly perFault = new Map<string, Record<JudgedOutcome, number>>();
  /** sessions whose finding a fault of their own excused, overall and per fault point */
  excused = 0;
  readonly excusedPerFault = new Map<string, number>();
  readonly samples: FindingSample[] = [];
  constructor(private readonly maxSamples = 50) {}

  add(rec: SessionRecord, v: Verdict, transcript?: () => string): void {
    this.total[v.outcome]++;
    const keys = rec.faults.length === 0 ? ["(none)"] : [...new Set(rec.faults)];
    for (const f of keys) {
      let row = this.perFault.get(f);
      if (row === undefined) {
        row = { ok: 0, tempfail: 0, permfail: 0, ungraceful: 0, hang: 0, unreachable: 0, crash: 0 };
        this.perFault.set(f, row);
      }
      row[v.outcome]++;
      if (v.excused !== null) this.excusedPerFault.set(f, (this.excusedPerFault.get(f) ?? 0) + 1);
    }
    if (v.excused !== null) this.excused++;
    if (v.finding !== null) {
      this.findings[v.finding] = (this.findings[v.finding] ?? 0) + 1;
      // keep a few of each kind rather than the first 50 of the most common one
      const sameKind = this.samples.filter((s) => s.finding === v.finding).length;
      if (this.samples.length < this.maxSamples && sameKind < Math.max(3, this.maxSamples / 5)) {
        this.samples.push({ finding: v.finding, detail: v.detail, faults: [...new Set(rec.faults)], messageId: rec.messageId, ...(transcript ? { transcript: transcript() } : {}) });
      }
    }
  }

  findingCount(): number {
    return Object.values(this.findings).reduce((a, b) => a + (b ?? 0), 0);
  }
}
