// A socketmap server (Postfix `socketmap:inet:127.0.0.1:PORT:NAME`, Sendmail's protocol) over
// backing tables, with faults at lookup.<NAME>. Requests and replies are netstrings
// (`LEN:DATA,`): request `NAME KEY`; replies `OK VALUE`, `NOTFOUND `, `TEMP reason`,
// `TIMEOUT reason`, `PERM reason`.
import type { Injector } from "../injector.js";
import type { FaultLayer } from "./layer.js";
import { LookupServer, type LookupReply } from "./lookup-server.js";
import { BackingTable, monkeyLookup, type LookupAnswer } from "./lookup.js";

/** Longest netstring accepted (Postfix's socketmap limit is 100000). */
export const NETSTRING_MAX = 100_000;

export function encodeNetstring(s: string | Buffer): Buffer {
  const b = typeof s === "string" ? Buffer.from(s, "utf8") : s;
  return Buffer.concat([Buffer.from(`${b.length}:`), b, Buffer.from(",")]);
}

export class NetstringError extends Error {}

/** Incremental netstring decoder: push bytes, get complete payloads. */
export class NetstringReader {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    for (;;) {
      const colon = this.buf.indexOf(0x3a);
      if (colon < 0) {
        if (this.buf.length > 7 || !/^\d*$/.test(this.buf.toString("latin1"))) throw new NetstringError(`bad netstring length prefix: ${JSON.stringify(this.buf.subarray(0, 12).toString("latin1"))}`);
        return out;
      }
      const lenText = this.buf.subarray(0, colon).toString("latin1");
      if (!/^\d{1,7}$/.test(lenText)) throw new NetstringError(`bad netstring length: ${JSON.stringify(lenText)}`);
      const len = Number(lenText);
      if (len > NETSTRING_MAX) throw new NetstringError(`netstring too long: ${len}`);
      if (this.buf.length < colon + 1 + len + 1) return out;
      if (this.buf[colon + 1 + len] !== 0x2c) throw new NetstringError("netstring not terminated by ','");
      out.push(this.buf.subarray(colon + 1, colon + 1 + len));
      this.buf = this.buf.subarray(colon + 2 + len);
    }
  }
}

export function encodeSocketmapAnswer(a: LookupAnswer): Buffer | null {
  switch (a.kind) {
    case "found":
      return encodeNetstring(`OK ${a.value}`);
    case "notfound":
      return encodeNetstring("NOTFOUND ");
    case "temp":
      return encodeNetstring(`TEMP ${a.reason}`);
    case "perm":
      return encodeNetstring(`PERM ${a.reason}`);
    case "timeout":
      return encodeNetstring(`TIMEOUT ${a.reason}`);
    case "garbage":
      return Buffer.from("9x:OK what,");
    default:
      return null;
  }
}

export interface SocketmapOptions {
  /** map name -> entries; lookups of other names answer PERM */
  maps: Record<string, Record<string, string>>;
  injector: Injector | null;
  port?: number;
}

export class SocketmapServer extends LookupServer implements FaultLayer {
  readonly name = "socketmap";
  private readonly maps = new Map<string, BackingTable>();
  private injector: Injector | null;

  constructor(opts: SocketmapOptions) {
    super(opts.port);
    for (const [name, entries] of Object.entries(opts.maps)) this.maps.set(name, new BackingTable(entries));
    this.injector = opts.injector;
  }

  /** Lookups from now on ask this injector (a server outlives runs: real targets keep it while they run). */
  setInjector(injector: Injector | null): void {
    this.injector = injector;
  }

  points(): string[] {
    return [...this.maps.keys()].map((n) => `lookup.${n}`);
  }

  /** The Postfix table spec for one map. */
  spec(map: string): string {
    const a = this.address();
    if (a === null) throw new Error("socketmap: not started");
    return `socketmap:inet:${a.host}:${a.port}:${map}`;
  }

  protected framer(): (chunk: Buffer) => string[] {
    const reader = new NetstringReader();
    return (chunk) => reader.push(chunk).map((r) => r.toString("utf8"));
  }

  protected async answer(req: string): Promise<LookupReply> {
    const sp = req.indexOf(" ");
    const name = sp < 0 ? req : req.slice(0, sp);
    const key = sp < 0 ? "" : req.slice(sp + 1);
    const table = this.maps.get(name);
    const a: LookupAnswer = table === undefined ? { kind: "perm", reason: `unknown map ${name}` } : await monkeyLookup(this.injector, `lookup.${name}`, table, key);
    return a.kind === "exit" ? "drop" : encodeSocketmapAnswer(a);
  }
}
