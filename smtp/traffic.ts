// A source of client sessions over the transaction engine, for whoever drives them with its own
// observer and mail (the monkey's flood): storm's mix is one, handed over by the CLI layer.
import type { ClientOptions, SessionResult, Transaction } from "./transaction.js";

export interface MailHow {
  /** streamed in chunks (a large message) instead of built whole */
  streamed?: boolean;
  abort?: Transaction["abort"];
  /** the server's SIZE limit (null: none declared, 0: no fixed limit); a valid-mail source stays under it */
  maxSize?: number | null;
}

/** Where a session's mail comes from: storm repeats one message, the monkey gives each its ledger id. */
export interface MailSource {
  /** transaction `i` with `rcpts` recipients and a body of `size` bytes */
  transaction(i: number, rcpts: number, size: number, how?: MailHow): Transaction;
}

/** The server's other listeners, for sessions that want implicit TLS or IPv6. */
export interface OtherEndpoints {
  tlsPort?: number;
  host6?: string;
}

export interface TrafficContext {
  /** the engine options: the server's plain endpoint, timeout, greeting name, observer, transcript */
  client: ClientOptions;
  endpoints: OtherEndpoints;
  mail: MailSource;
}

export interface TrafficSession {
  kind: string;
  run(ctx: TrafficContext): Promise<SessionResult>;
}

export interface Traffic {
  /** one line for reports: where the sessions come from */
  describe: string;
  /** the next session; null: there are no more (a fault sweep that is done), and the flood ends */
  next(): TrafficSession | null;
}
