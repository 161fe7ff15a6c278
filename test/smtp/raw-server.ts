// A scripted TCP server for wire-layer tests: each connection runs `handler` with helpers to
// send exact bytes and read client lines, so malformed and hostile servers are easy to fake.
import net from "node:net";
import { LineReader } from "../../smtp/line-reader.js";
import type { Line } from "../../smtp/line-reader.js";

export interface RawPeer {
  socket: net.Socket;
  send(data: string | Buffer): void;
  /** next line from the client */
  line(): Promise<Line>;
}

export async function startRawServer(
  handler: (peer: RawPeer) => Promise<void> | void,
  host = "127.0.0.1",
): Promise<{ port: number; host: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const reader = new LineReader();
    const lines: Line[] = [];
    let wake: (() => void) | null = null;
    socket.on("data", (chunk: Buffer) => {
      lines.push(...reader.push(chunk));
      wake?.();
    });
    const peer: RawPeer = {
      socket,
      send: (d) => void socket.write(d),
      line: async () => {
        while (lines.length === 0) await new Promise<void>((r) => (wake = r));
        return lines.shift() as Line;
      },
    };
    Promise.resolve(handler(peer)).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host,
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
