// Storms are load: by default they may only hit this machine. Names other than "localhost" are
// not resolved (a lookup could itself leave the machine); they need --allow-remote.
import net from "node:net";

export class RemoteTargetError extends Error {}

export function isLoopback(addr: string): boolean {
  return addr.startsWith("127.") || addr === "::1" || addr.startsWith("::ffff:127.");
}

export function assertLoopback(host: string, allowRemote: boolean): void {
  if (allowRemote) return;
  if (host === "localhost" || (net.isIP(host) !== 0 && isLoopback(host))) return;
  throw new RemoteTargetError(`refusing to send load to ${host}: not a loopback address; pass --allow-remote if this server is yours to test`);
}
