// What the MTA-facing lookup servers (Postfix tcp_table, socketmap) share: a loopback listener,
// per-connection request framing, answers in request order (one lookup at a time per
// connection, as the MTAs expect), and the "drop the connection" fault.
import { listenLoopback, loopbackAddress } from "../../common/listen.js";
import net from "node:net";

/** What to send back for one request: bytes, nothing (stay silent), or drop the connection. */
export type LookupReply = Buffer | string | null | "drop";

export abstract class LookupServer {
  requests = 0;
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly port?: number) {}

  /** A fresh splitter of one connection's bytes into requests; it throws on a broken stream. */
  protected abstract framer(): (chunk: Buffer) => string[];
  protected abstract answer(request: string): Promise<LookupReply>;

  address(): { host: string; port: number } | null {
    return loopbackAddress(this.server);
  }

  async start(): Promise<void> {
    // Half-open: a client that sends its request and shuts down its side (Exim's ${readsocket})
    // still gets the answer; the connection ends once the answers are written.
    const server = net.createServer({ allowHalfOpen: true }, (s) => this.serve(s));
    this.server = server;
    await listenLoopback(server, this.port ?? 0);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server !== null) await new Promise<void>((r) => server.close(() => r()));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const frame = this.framer();
    let chain = Promise.resolve();
    socket.on("data", (chunk: Buffer) => {
      let requests: string[];
      try {
        requests = frame(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const r of requests) chain = chain.then(() => this.reply(socket, r));
    });
    socket.on("end", () => void chain.then(() => socket.end()));
  }

  private async reply(socket: net.Socket, request: string): Promise<void> {
    if (socket.destroyed) return;
    this.requests++;
    const out = await this.answer(request);
    if (out === "drop") socket.destroy();
    else if (out !== null && !socket.destroyed) socket.write(out);
  }
}
