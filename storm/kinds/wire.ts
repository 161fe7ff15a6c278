// The engine run every wire-level kind shares: the session of the context's plan, shaped by
// the kind (pipelining, RSET between, an aborted last transaction, streamed messages...).
import { runSmtpSession } from "../../smtp/index.js";
import type { MailHow, SessionResult, SessionShape, Transaction } from "../../smtp/index.js";
import type { KindContext } from "./kind.js";

export interface WireShape extends Partial<Omit<SessionShape, "transaction">> {
  abortLast?: Transaction["abort"];
  streamed?: boolean;
}

export function runWire(ctx: KindContext, shape: WireShape = {}): Promise<SessionResult> {
  const { plan, mail } = ctx;
  const transactions = shape.transactions ?? plan.transactions;
  const abortLast = shape.abortLast;
  const streamed = shape.streamed === true;
  // Every field written out, none spread or rested (the compiler checks the list is whole): in
  // V8 (Node 20) those copies take a slow path, about 0.5 µs a property, and this runs per session.
  const session: { [K in keyof Required<SessionShape>]: SessionShape[K] } = {
    transactions,
    // (no closure for a session without transactions: a hold keeps its frame for seconds)
    transaction:
      transactions === 0
        ? noTransaction
        : (i, caps) => {
            const how: MailHow = { maxSize: caps.size() };
            if (streamed) how.streamed = true;
            if (abortLast !== undefined && i === transactions - 1) how.abort = abortLast;
            return mail.transaction(i, plan.rcpts, plan.size, how);
          },
    pipelining: shape.pipelining,
    partialRcpts: shape.partialRcpts,
    rsetBetween: shape.rsetBetween,
    afterGreeting: shape.afterGreeting,
  };
  // The connection options are shared, not copied: thousands of sessions are held at once.
  return runSmtpSession(session, ctx.client);
}

function noTransaction(): never {
  throw new Error("a session of no transactions was asked for one");
}

/** Shrink candidates of a number: its minimum, the midpoint, one less. */
export function smaller(v: number, min: number): number[] {
  const c = new Set<number>();
  if (v > min) c.add(min);
  if (Math.floor((v + min) / 2) > min && Math.floor((v + min) / 2) < v) c.add(Math.floor((v + min) / 2));
  if (v - 1 >= min) c.add(v - 1);
  return [...c];
}
