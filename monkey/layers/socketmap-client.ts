// A socketmap client: asks a socketmap server (SocketmapServer in the runner's process) and turns
// its reply back into a LookupAnswer. The OpenSMTPD table backend uses it so that the runner's
// injector decides every lookup smtpd makes. One connection, one request at a time (smtpd
// serializes a table's lookups anyway).
import net from "node:net";
import type { LookupAnswer } from "./lookup.js";
import { NetstringReader, NetstringError, encodeNetstring } from "./socketmap.js";
import { isLoopback } from "./layer.js";

export class SocketmapClient {
  private socket: net.Socket | null = null;
  private reader = new NetstringReader();
  private waiting: { resolve: (a: LookupAnswer) => void } | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    if (!isLoopback(host)) throw new Error(`socketmap client: ${host} is not a loopback address`);
  }

  private async connect(): Promise<net.Socket> {
    if (this.socket !== null && !this.socket.destroyed) return this.socket;
    const s = net.connect({ host: this.host, port: this.port });
    await new Promise<void>((resolve, reject) => {
      s.once("connect", () => resolve());
      s.once("error", reject);
    });
    this.reader = new NetstringReader();
    s.on("data", (chunk: Buffer) => {
      let replies: Buffer[];
      try {
        replies = this.reader.push(chunk);
      } catch (err) {
        if (!(err instanceof NetstringError)) throw err;
        // the server sent a broken reply on purpose (garbage fault)
        this.settle({ kind: "garbage" });
        s.destroy();
        return;
      }
      for (const r of replies) this.settle(decodeSocketmapReply(r.toString("utf8")));
    });
    // A dropped connection is the server's exit fault.
    s.on("close", () => this.settle({ kind: "exit" }));
    s.on("error", () => s.destroy());
    this.socket = s;
    return s;
  }

  private settle(a: LookupAnswer): void {
    const w = this.waiting;
    this.waiting = null;
    w?.resolve(a);
  }

  lookup(map: string, key: string): Promise<LookupAnswer> {
    const next = this.chain.then(async () => {
      const s = await this.connect();
      return new Promise<LookupAnswer>((resolve) => {
        this.waiting = { resolve };
        s.write(encodeNetstring(`${map} ${key}`));
      });
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }
}

export function decodeSocketmapReply(reply: string): LookupAnswer {
  const sp = reply.indexOf(" ");
  const status = sp < 0 ? reply : reply.slice(0, sp);
  const rest = sp < 0 ? "" : reply.slice(sp + 1);
  switch (status) {
    case "OK":
      return { kind: "found", value: rest };
    case "NOTFOUND":
      return { kind: "notfound" };
    case "TEMP":
      return { kind: "temp", reason: rest };
    case "TIMEOUT":
      return { kind: "timeout", reason: rest };
    case "PERM":
      return { kind: "perm", reason: rest };
    default:
      return { kind: "garbage" };
  }
}
