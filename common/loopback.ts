// Network safety: load and faults may only hit this machine unless the user says otherwise.
// Names other than "localhost" are not resolved (a lookup could itself leave the machine).
import net from "node:net";

export class RemoteTargetError extends Error {}

/** A loopback address or "localhost"; any other name is not loopback (it is never resolved). */
export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (net.isIP(host) === 0) return false;
  return host.startsWith("127.") || host === "::1" || host.startsWith("::ffff:127.");
}

export function assertLoopback(host: string, allowRemote: boolean): void {
  if (allowRemote || isLoopback(host)) return;
  throw new RemoteTargetError(`refusing to send load to ${host}: not a loopback address; pass --allow-remote if this server is yours to test`);
}
