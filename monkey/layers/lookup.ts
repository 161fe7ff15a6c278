// What a monkeyed lookup table answers: the backing table's answer, or a fault. The protocol
// servers (Postfix tcp_table and socketmap, OpenSMTPD's table-proc) only encode this.
import type { Injector } from "../injector.js";
import { sleep } from "./layer.js";

export type LookupAnswer =
  | { kind: "found"; value: string }
  | { kind: "notfound" }
  | { kind: "temp"; reason: string }
  | { kind: "perm"; reason: string }
  /** a reply that breaks the protocol */
  | { kind: "garbage" }
  /** say nothing and keep the connection (the client's timeout decides) */
  | { kind: "silent" }
  /** socketmap has an explicit TIMEOUT reply */
  | { kind: "timeout"; reason: string }
  /** drop the connection (or exit the backend process) */
  | { kind: "exit" };

/** A backing table: exact keys, case-insensitive like most MTA tables. */
export class BackingTable {
  private readonly map = new Map<string, string>();
  constructor(entries: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(entries)) this.map.set(k.toLowerCase(), v);
  }
  get(key: string): string | undefined {
    return this.map.get(key.toLowerCase());
  }
  set(key: string, value: string): void {
    this.map.set(key.toLowerCase(), value);
  }
  get size(): number {
    return this.map.size;
  }
}

/** Looks `key` up in `table` through the fault point `point` (lookup.<table>). */
export async function monkeyLookup(injector: Injector | null, point: string, table: BackingTable, key: string): Promise<LookupAnswer> {
  const d = injector?.decide(point) ?? null;
  if (d !== null && d.delayMs > 0) await sleep(d.delayMs);
  const clean = (): LookupAnswer => {
    const v = table.get(key);
    return v === undefined ? { kind: "notfound" } : { kind: "found", value: v };
  };
  if (d === null) return clean();
  switch (d.action) {
    case "tempfail":
      return { kind: "temp", reason: `smtpchaos ${point} call ${d.call}` };
    case "permfail":
      return { kind: "perm", reason: `smtpchaos ${point} call ${d.call}` };
    case "notfound":
      return { kind: "notfound" };
    case "garbage":
      return { kind: "garbage" };
    case "timeout":
      return { kind: "timeout", reason: `smtpchaos ${point} call ${d.call}` };
    case "exit":
      return { kind: "exit" };
    default:
      return clean();
  }
}
