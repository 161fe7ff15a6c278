// The engine run every wire-level kind shares: the session of the context's plan, shaped by
// the kind (pipelining, RSET between, an aborted last transaction, streamed messages...).
import { runSmtpSession } from "../../smtp/index.js";
import type { SessionResult, SessionShape, Transaction } from "../../smtp/index.js";
import type { KindContext } from "./kind.js";

export interface WireShape extends Partial<Omit<SessionShape, "transaction">> {
  abortLast?: Transaction["abort"];
  streamed?: boolean;
}

export function runWire(ctx: KindContext, shape: WireShape = {}): Promise<SessionResult> {
  const { plan, mail } = ctx;
  const { abortLast, streamed, ...spec } = shape;
  const transactions = spec.transactions ?? plan.transactions;
  // The connection options are shared, not copied: thousands of sessions are held at once.
  return runSmtpSession(
    {
      ...spec,
      transactions,
      transaction: (i, caps) => mail.transaction(i, plan.rcpts, plan.size, { maxSize: caps.size(), ...(streamed === true ? { streamed } : {}), ...(abortLast !== undefined && i === transactions - 1 ? { abort: abortLast } : {}) }),
    },
    ctx.client,
  );
}

/** Shrink candidates of a number: its minimum, the midpoint, one less. */
export function smaller(v: number, min: number): number[] {
  const c = new Set<number>();
  if (v > min) c.add(min);
  if (Math.floor((v + min) / 2) > min && Math.floor((v + min) / 2) < v) c.add(Math.floor((v + min) / 2));
  if (v - 1 >= min) c.add(v - 1);
  return [...c];
}
