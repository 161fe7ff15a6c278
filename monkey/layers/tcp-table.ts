// A Postfix tcp_table(5) server (`tcp:127.0.0.1:PORT`) over a backing table, with faults from
// the plan at point lookup.<table>. Protocol: request `get KEY\n`; replies `200 VALUE\n` (found),
// `500 TEXT\n` (not found), `400 TEXT\n` (temporary failure); KEY and VALUE are %XX-encoded.
// The protocol has no permanent error: "permfail" answers 500 (not found).
import type { Injector } from "../injector.js";
import type { FaultLayer } from "./layer.js";
import { LookupServer, type LookupReply } from "./lookup-server.js";
import { BackingTable, monkeyLookup, type LookupAnswer } from "./lookup.js";

export function tcpTableEncode(s: string): string {
  return Buffer.from(s, "utf8")
    .toString("latin1")
    // eslint-disable-next-line no-control-regex -- control bytes are exactly what must be escaped
    .replace(/[\x00-\x20%\x7f-\xff]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

export function tcpTableDecode(s: string): string {
  const bytes = Buffer.from(s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))), "latin1");
  return bytes.toString("utf8");
}

export function encodeTcpTableAnswer(a: LookupAnswer): string | null {
  switch (a.kind) {
    case "found":
      return `200 ${tcpTableEncode(a.value)}\n`;
    case "notfound":
      return "500 not found\n";
    case "perm":
      return `500 ${tcpTableEncode(a.reason)}\n`;
    case "temp":
      return `400 ${tcpTableEncode(a.reason)}\n`;
    case "garbage":
      return "2x0 \u0007garbage\n";
    default:
      return null;
  }
}

export interface TcpTableOptions {
  /** the table name: fault point lookup.<table> */
  table: string;
  entries?: Record<string, string>;
  injector: Injector | null;
  port?: number;
}

export class TcpTableServer extends LookupServer implements FaultLayer {
  readonly name: string;
  readonly point: string;
  readonly table: BackingTable;

  constructor(private readonly opts: TcpTableOptions) {
    super(opts.port);
    this.name = `tcp-table:${opts.table}`;
    this.point = `lookup.${opts.table}`;
    this.table = new BackingTable(opts.entries);
  }

  points(): string[] {
    return [this.point];
  }

  /** The Postfix table spec to put in main.cf. */
  spec(): string {
    const a = this.address();
    if (a === null) throw new Error(`${this.name}: not started`);
    return `tcp:${a.host}:${a.port}`;
  }

  protected framer(): (chunk: Buffer) => string[] {
    let buf = "";
    return (chunk) => {
      buf += chunk.toString("latin1");
      const lines: string[] = [];
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, nl).replace(/\r$/, ""));
        buf = buf.slice(nl + 1);
      }
      return lines;
    };
  }

  protected async answer(line: string): Promise<LookupReply> {
    const m = /^get (.*)$/.exec(line);
    if (m === null) return `400 ${tcpTableEncode(`unsupported request: ${line.slice(0, 40)}`)}\n`;
    const a = await monkeyLookup(this.opts.injector, this.point, this.table, tcpTableDecode(m[1] as string));
    return a.kind === "exit" ? "drop" : encodeTcpTableAnswer(a);
  }
}
