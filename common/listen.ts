// Servers the toolkit starts for itself (lookup servers, the fault proxy, the next hop) listen
// on loopback only (team safety rule).
import type net from "node:net";
import type { AddressInfo } from "node:net";

export const LOOPBACK_V4 = "127.0.0.1";

/** Listens on 127.0.0.1 (port 0: any free one); rejects with the bind error. */
export function listenLoopback(server: net.Server, port = 0): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, LOOPBACK_V4, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** Where a server started with listenLoopback listens, or null when it does not. */
export function loopbackAddress(server: net.Server | null | undefined): { host: string; port: number } | null {
  const a = server?.address() as AddressInfo | null | undefined;
  return a ? { host: LOOPBACK_V4, port: a.port } : null;
}
