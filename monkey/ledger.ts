// The ledger: what the client was told about each message vs what the target delivered.
// A 250 after the final dot is a commit (Jepsen's acknowledged write): it must be delivered
// exactly once. Ids are `<tag>-<n base36>`, so state is one byte per message in a growable array
// (millions of messages in a few MB) and no transcript is kept here.
import { randomBytes } from "node:crypto";

/** What the client knows about a message. */
export const MsgState = {
  /** id handed out; the final dot was never written */
  NotSent: 0,
  /** final dot written, reply pending */
  Pending: 1,
  /** 250 after the final dot */
  Accepted: 2,
  /** 4xx/5xx after the final dot: the server refused the commit */
  Rejected: 3,
  /** the dot was written but no reply came (timeout, reset, close): delivery is legitimately unknown (RFC 1047) */
  Ambiguous: 4,
} as const;
export type MsgState = (typeof MsgState)[keyof typeof MsgState];

export interface ReconcileInput {
  /** X-Smtpchaos-Id of every delivered copy that is not a bounce (null = a message without the header) */
  delivered: Iterable<string | null>;
  /**
   * for every bounce (a DSN: a null-sender message reporting a failed delivery) delivered to the
   * sender's mailbox, the X-Smtpchaos-Id found in the headers it carries of the original
   * (null = none of ours)
   */
  bounced?: Iterable<string | null>;
  /** messages still in the target's queue after the flush (the target's own count) */
  queueSize: number;
  /**
   * the X-Smtpchaos-Id of every message still in the queue (a queued bounce counts for the message
   * it reports on); null or absent when the target cannot list them: stuck and lost are then
   * told apart only when the queue is known to be empty
   */
  queued?: Iterable<string | null> | null;
  /** false when queueSize means nothing (a server whose queue cannot be observed); default true */
  queueKnown?: boolean;
  /**
   * The faults that may have touched a message's queue entry after its 250 (kills and pauses of
   * the MTA's processes, faults inside it), given the time of the 250: a message lost, stuck or
   * duplicated whose own session no fault touched is charged to these, never to "(none)" or to
   * points that fired before it was accepted.
   */
  afterAccept?: (acceptedAtMs: number) => readonly string[];
}

export interface LedgerCounts {
  /** accepted, not delivered, not bounced, and not in the queue (its ids listed, or the queue empty) */
  lost: number;
  /** accepted, not delivered, not bounced, and its id still in the queue */
  stuck: number;
  /** accepted, not delivered, not bounced, with a queue whose ids cannot be listed: stuck or lost, it cannot be told which */
  missing: number;
  /** accepted and bounced instead of delivered: RFC 5321 allows a bounce after acceptance (not a finding) */
  bounced: number;
  /** delivered to every recipient and bounced as well: a bounce that is false, or a delivery that should not have happened */
  deliveredAndBounced: number;
  duplicates: number;
  /** delivered although the client saw no reply after the dot: allowed, reported separately */
  deliveredAmbiguous: number;
  /** delivered although the server answered 4xx/5xx to the dot: a bug (double delivery on retry) */
  deliveredAfterReject: number;
  /** delivered although the client never finished DATA: a truncated or phantom message */
  deliveredUnsent: number;
}

/** The bug classes among the counts: any of them non-zero is a finding. */
export const LEDGER_FINDINGS = ["lost", "stuck", "missing", "duplicates", "deliveredAfterReject", "deliveredUnsent", "deliveredAndBounced"] as const satisfies ReadonlyArray<keyof LedgerCounts>;

/** What each bug class of the ledger means, for people (reports, JUnit, the sweep). */
export const LEDGER_FINDING_TEXT: Readonly<Record<(typeof LEDGER_FINDINGS)[number], string>> = {
  lost: "accepted, never delivered, not bounced, not in the queue",
  stuck: "accepted, still queued",
  missing: "accepted, neither delivered nor bounced (stuck or lost: the queue's ids are not listable)",
  duplicates: "delivered more than once",
  deliveredAfterReject: "delivered although the dot got a 4xx/5xx",
  deliveredUnsent: "delivered although the dot was never sent",
  deliveredAndBounced: "delivered and bounced as well",
};

/** How many findings a set of ledger counts holds (one per message and class). */
export function ledgerFindingCount(c: LedgerCounts): number {
  return LEDGER_FINDINGS.reduce((n, k) => n + c[k], 0);
}

export interface LedgerReport extends LedgerCounts {
  tag: string;
  sent: number;
  accepted: number;
  rejected: number;
  ambiguous: number;
  /** distinct ids of ours delivered */
  deliveredDistinct: number;
  /** delivered copies (and bounces) that carry no id or another run's id */
  foreign: number;
  queueSize: number;
  /** true when the queue's ids were listed, so that stuck and lost are told apart by id */
  queueListed: boolean;
  /** distinct ids of ours in the queue listing (0 when not listed) */
  queuedIds: number;
  /** up to `sampleSize` ids per class, the actual ids of that class */
  samples: {
    lost: string[];
    stuck: string[];
    missing: string[];
    bounced: string[];
    deliveredAndBounced: string[];
    duplicates: Array<{ id: string; copies: number }>;
    deliveredAfterReject: string[];
    deliveredUnsent: string[];
  };
  perFault: Record<string, LedgerCounts & { accepted: number }>;
  /** true when any bug-class count is non-zero (LEDGER_FINDINGS) */
  findings: boolean;
}

function grow<T extends Uint8Array | Uint16Array | Uint32Array>(a: T, need: number, make: (n: number) => T): T {
  if (need <= a.length) return a;
  let n = a.length * 2;
  while (n < need) n *= 2;
  const b = make(n);
  b.set(a);
  return b;
}

const emptyCounts = (): LedgerCounts & { accepted: number } => ({
  accepted: 0, lost: 0, stuck: 0, missing: 0, bounced: 0, deliveredAndBounced: 0, duplicates: 0, deliveredAmbiguous: 0, deliveredAfterReject: 0, deliveredUnsent: 0,
});

export class Ledger {
  readonly tag: string;
  private n = 0;
  private state = new Uint8Array(1024);
  /** index+1 into faultNames of the faults attributed to the message; 0 = none */
  private fault = new Uint16Array(1024);
  /** copies a correct delivery makes: one per distinct recipient mailbox */
  private wanted = new Uint8Array(1024);
  /** when the 250 after its dot came, in tenths of a second since the ledger began (0 = not accepted) */
  private acceptedAt = new Uint32Array(1024);
  private readonly t0 = Date.now();
  private readonly faultNames: string[] = [];
  private readonly faultIndex = new Map<string, number>();

  constructor(tag?: string) {
    this.tag = tag ?? `m${randomBytes(3).toString("hex")}`;
    if (!/^[A-Za-z0-9]+$/.test(this.tag)) throw new RangeError(`ledger tag must be alphanumeric, got '${this.tag}'`);
  }

  /** A fresh id to put in X-Smtpchaos-Id (buildMessage({ id })), for a message to `copies` distinct mailboxes. */
  newId(copies = 1): string {
    if (!Number.isInteger(copies) || copies < 1 || copies > 255) throw new RangeError(`copies must be 1..255, got ${copies}`);
    const i = this.n++;
    this.state = grow(this.state, this.n, (k) => new Uint8Array(k));
    this.fault = grow(this.fault, this.n, (k) => new Uint16Array(k));
    this.wanted = grow(this.wanted, this.n, (k) => new Uint8Array(k));
    this.acceptedAt = grow(this.acceptedAt, this.n, (k) => new Uint32Array(k));
    this.wanted[i] = copies;
    return `${this.tag}-${i.toString(36)}`;
  }

  get size(): number {
    return this.n;
  }

  /** Messages acknowledged so far (O(1), for live progress). */
  get accepted(): number {
    return this.acceptedSoFar;
  }

  private acceptedSoFar = 0;

  /** Index of one of our ids, or -1 for foreign ones. */
  indexOf(id: string): number {
    const dash = id.lastIndexOf("-");
    if (dash < 0 || id.slice(0, dash) !== this.tag) return -1;
    const s = id.slice(dash + 1);
    if (!/^[0-9a-z]+$/.test(s)) return -1;
    const i = Number.parseInt(s, 36);
    return i < this.n ? i : -1;
  }

  private idx(id: string): number {
    const i = this.indexOf(id);
    if (i < 0) throw new RangeError(`not an id of ledger ${this.tag}: ${id}`);
    return i;
  }

  dotSent(id: string): void {
    this.state[this.idx(id)] = MsgState.Pending;
  }

  /**
   * Records the outcome after the dot. `faults` attributes the message: all of them together
   * (one row "a + b"), since a row for only the first would blame it for what another did.
   * The first attribution is kept.
   */
  settle(id: string, result: "accepted" | "rejected" | "ambiguous" | "not-sent", faults: readonly string[] = []): void {
    const i = this.idx(id);
    if (result === "accepted" && this.state[i] !== MsgState.Accepted) {
      this.acceptedSoFar++;
      this.acceptedAt[i] = Math.max(1, Math.round((Date.now() - this.t0) / 100));
    }
    else if (result !== "accepted" && this.state[i] === MsgState.Accepted) this.acceptedSoFar--;
    this.state[i] =
      result === "accepted" ? MsgState.Accepted : result === "rejected" ? MsgState.Rejected : result === "ambiguous" ? MsgState.Ambiguous : MsgState.NotSent;
    const f = faults.length === 0 ? undefined : [...new Set(faults)].join(" + ");
    if (f !== undefined && this.fault[i] === 0) {
      let k = this.faultIndex.get(f);
      if (k === undefined) {
        if (this.faultNames.length >= 0xfffe) return;
        this.faultNames.push(f);
        k = this.faultNames.length;
        this.faultIndex.set(f, k);
      }
      this.fault[i] = k;
    }
  }

  stateOf(id: string): MsgState | null {
    const i = this.indexOf(id);
    return i < 0 ? null : (this.state[i] as MsgState);
  }

  counts(): { sent: number; accepted: number; rejected: number; ambiguous: number; pending: number } {
    const c = { sent: this.n, accepted: 0, rejected: 0, ambiguous: 0, pending: 0 };
    for (let i = 0; i < this.n; i++) {
      const s = this.state[i];
      if (s === MsgState.Accepted) c.accepted++;
      else if (s === MsgState.Rejected) c.rejected++;
      else if (s === MsgState.Ambiguous) c.ambiguous++;
      else if (s === MsgState.Pending) c.pending++;
    }
    return c;
  }

  reconcile(input: ReconcileInput, sampleSize = 20): LedgerReport {
    const copies = new Uint8Array(this.n);
    let foreign = 0;
    for (const id of input.delivered) {
      const i = id === null ? -1 : this.indexOf(id);
      if (i < 0) foreign++;
      else if ((copies[i] as number) < 255) copies[i] = (copies[i] as number) + 1;
    }
    // one bit per message: 1 = a bounce reported it, 2 = its id is in the queue
    const seen = new Uint8Array(this.n);
    const BOUNCED = 1;
    const QUEUED = 2;
    for (const id of input.bounced ?? []) {
      const i = id === null ? -1 : this.indexOf(id);
      if (i < 0) foreign++;
      else seen[i] = (seen[i] as number) | BOUNCED;
    }
    const listed = input.queued !== undefined && input.queued !== null;
    let queuedIds = 0;
    for (const id of input.queued ?? []) {
      const i = id === null ? -1 : this.indexOf(id);
      if (i >= 0 && ((seen[i] as number) & QUEUED) === 0) {
        seen[i] = (seen[i] as number) | QUEUED;
        queuedIds++;
      }
    }
    // Without a listing, an undelivered message is lost only when the queue is known to be empty.
    const emptyQueue = input.queueKnown !== false && input.queueSize <= 0;
    const c = this.counts();
    const totals = emptyCounts();
    const perFault: Record<string, LedgerCounts & { accepted: number }> = {};
    const samples: LedgerReport["samples"] = { lost: [], stuck: [], missing: [], bounced: [], deliveredAndBounced: [], duplicates: [], deliveredAfterReject: [], deliveredUnsent: [] };
    let deliveredDistinct = 0;
    // a problem of a message its own session's faults do not explain: what touched its queue entry
    const later = (i: number): string | null => {
      const at = this.acceptedAt[i] as number;
      const faults = at === 0 ? [] : (input.afterAccept?.(this.t0 + at * 100) ?? []);
      return faults.length === 0 ? null : `after its 250: ${[...new Set(faults)].join(" + ")}`;
    };
    const bucket = (i: number, problem = false): LedgerCounts & { accepted: number } => {
      const f = this.fault[i] as number;
      const name = f !== 0 ? (this.faultNames[f - 1] as string) : ((problem ? later(i) : null) ?? "(none)");
      return (perFault[name] ??= emptyCounts());
    };
    const id = (i: number): string => `${this.tag}-${i.toString(36)}`;
    const count = (i: number, k: Exclude<keyof LedgerCounts, "duplicates">): void => {
      totals[k]++;
      bucket(i, k === "lost" || k === "stuck" || k === "missing")[k]++;
      const s = samples[k as keyof LedgerReport["samples"]] as string[] | undefined;
      if (s !== undefined && s.length < sampleSize) s.push(id(i));
    };
    for (let i = 0; i < this.n; i++) {
      const k = copies[i] as number;
      const want = this.wanted[i] as number;
      const s = this.state[i] as MsgState;
      const bounced = ((seen[i] as number) & BOUNCED) !== 0;
      if (k > 0) deliveredDistinct++;
      if (s === MsgState.Accepted) bucket(i).accepted++;
      if (k > want) {
        totals.duplicates++;
        bucket(i, true).duplicates++;
        if (samples.duplicates.length < sampleSize) samples.duplicates.push({ id: id(i), copies: k });
      }
      // Every copy delivered and a bounce too: one of the two is false.
      if (bounced && k >= want) count(i, "deliveredAndBounced");
      // A message missing from some of its mailboxes counts once: bounced (a bounce reports the
      // missing copies), stuck (its id still in the queue), lost, or missing when the queue
      // cannot say which.
      else if (s === MsgState.Accepted && k < want) {
        if (bounced) count(i, "bounced");
        else if (listed) count(i, ((seen[i] as number) & QUEUED) !== 0 ? "stuck" : "lost");
        else count(i, emptyQueue ? "lost" : "missing");
      }
      if (k > 0 && (s === MsgState.Ambiguous || s === MsgState.Pending)) count(i, "deliveredAmbiguous");
      if (k > 0 && s === MsgState.Rejected) count(i, "deliveredAfterReject");
      if (k > 0 && s === MsgState.NotSent) count(i, "deliveredUnsent");
    }
    return {
      tag: this.tag,
      sent: c.sent,
      accepted: c.accepted,
      rejected: c.rejected,
      ambiguous: c.ambiguous + c.pending,
      deliveredDistinct,
      foreign,
      queueSize: input.queueSize,
      queueListed: listed,
      queuedIds,
      lost: totals.lost,
      stuck: totals.stuck,
      missing: totals.missing,
      bounced: totals.bounced,
      deliveredAndBounced: totals.deliveredAndBounced,
      duplicates: totals.duplicates,
      deliveredAmbiguous: totals.deliveredAmbiguous,
      deliveredAfterReject: totals.deliveredAfterReject,
      deliveredUnsent: totals.deliveredUnsent,
      samples,
      perFault,
      findings: ledgerFindingCount(totals) > 0,
    };
  }
}
