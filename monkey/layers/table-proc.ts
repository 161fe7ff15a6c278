// The OpenSMTPD 6.8 table backend (`table NAME monkey:/cfg` makes smtpd exec
// /usr/libexec/opensmtpd/table-monkey /cfg with an imsg channel on fd 0). Answers from a
// backing table with faults at lookup.<NAME>. Observed in 6.8: a temp failure (-1) on a domain
// check gives 451 at RCPT, on a virtual lookup 424; the backend exiting kills the whole daemon;
// anything but an OK reply makes smtpd fatalx.
import { chmod, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Duplex } from "node:stream";
import type { Injector } from "../injector.js";
import {
  decodeOpen,
  decodeTableRequest,
  encodeImsg,
  encodeTableReply,
  ImsgReader,
  PROC_TABLE,
  PROC_TABLE_API_VERSION,
  type Imsg,
} from "./imsg.js";
import { BackingTable, monkeyLookup, type LookupAnswer } from "./lookup.js";

export interface TableProcOptions {
  channel: Duplex;
  entries: Record<string, string>;
  injector: Injector | null;
  /** fault point; defaults to lookup.<name from the OPEN message> */
  point?: string;
  /** answers lookups elsewhere (e.g. a socketmap server in the runner's process, whose injector
   * decides); replaces entries/injector */
  remote?: (key: string) => Promise<LookupAnswer>;
  /** the process should end (exit fault, CLOSE, protocol error); tests pass a recorder */
  onExit: (code: number, why: string) => void;
  log?: (line: string) => void;
}

export class TableProcBackend {
  private readonly reader = new ImsgReader();
  private readonly table: BackingTable;
  private point: string | null;
  private chain = Promise.resolve();
  private ended = false;
  requests = 0;

  constructor(private readonly opts: TableProcOptions) {
    this.table = new BackingTable(opts.entries);
    this.point = opts.point ?? null;
    opts.channel.on("data", (chunk: Buffer) => {
      let msgs: Imsg[];
      try {
        msgs = this.reader.push(chunk);
      } catch (err) {
        this.end(1, `bad imsg from smtpd: ${(err as Error).message}`);
        return;
      }
      for (const m of msgs) this.chain = this.chain.then(() => this.handle(m)).catch((err: unknown) => this.end(1, `table-monkey: ${(err as Error).message}`));
    });
    opts.channel.on("end", () => this.end(0, "smtpd closed the channel"));
    opts.channel.on("error", (err) => this.end(1, `channel error: ${err.message}`));
  }

  private end(code: number, why: string): void {
    if (this.ended) return;
    this.ended = true;
    this.opts.log?.(`table-monkey: ${why}`);
    this.opts.onExit(code, why);
  }

  private reply(data?: Buffer): void {
    if (!this.ended) this.opts.channel.write(encodeImsg({ type: PROC_TABLE.OK, ...(data !== undefined ? { data } : {}) }));
  }

  private async handle(m: Imsg): Promise<void> {
    if (this.ended) return;
    switch (m.type) {
      case PROC_TABLE.OPEN: {
        const { version, name } = decodeOpen(m.data);
        if (version !== PROC_TABLE_API_VERSION) return this.end(1, `unsupported table API version ${version}`);
        this.point ??= `lookup.${name}`;
        this.opts.log?.(`table-monkey: open ${name} (${this.point})`);
        return this.reply();
      }
      case PROC_TABLE.UPDATE:
        return this.reply(encodeTableReply(1));
      case PROC_TABLE.CLOSE:
        return this.end(0, "close");
      case PROC_TABLE.FETCH:
        decodeTableRequest(m.data, false);
        return this.reply(encodeTableReply(0));
      case PROC_TABLE.CHECK:
      case PROC_TABLE.LOOKUP: {
        this.requests++;
        const req = decodeTableRequest(m.data, true);
        const key = req.key ?? "";
        const a = this.opts.remote !== undefined ? await this.opts.remote(key) : await monkeyLookup(this.opts.injector, this.point ?? "lookup.monkey", this.table, key);
        switch (a.kind) {
          case "found":
            return this.reply(m.type === PROC_TABLE.LOOKUP ? encodeTableReply(1, a.value) : encodeTableReply(1));
          case "notfound":
            return this.reply(encodeTableReply(0));
          case "temp":
          case "perm":
          case "timeout":
            return this.reply(encodeTableReply(-1));
          case "garbage":
            // a FAIL where smtpd expects OK: table-proc fatalx()es ("bad response")
            this.opts.channel.write(encodeImsg({ type: PROC_TABLE.FAIL }));
            return;
          case "silent":
            return;
          case "exit":
            return this.end(1, `exit fault at ${this.point ?? "?"}`);
        }
        return;
      }
      default:
        return this.end(1, `unexpected imsg type ${m.type}`);
    }
  }
}

/** Writes an executable shim (e.g. /usr/libexec/opensmtpd/table-monkey) that runs the compiled
 * table-monkey entry with this Node. The real targets install it; the config path is argv[1]. */
export async function writeTableMonkeyExecutable(path: string): Promise<void> {
  const entry = fileURLToPath(new URL("../bin/table-monkey.js", import.meta.url));
  await writeFile(path, `#!/bin/sh\nexec "${process.execPath}" "${entry}" "$@"\n`);
  await chmod(path, 0o755);
}
