// Network safety, one policy for every tool: load, scripts and faults may only reach this
// machine unless the user passes --allow-remote. Only literal loopback addresses and "localhost"
// count; other names are never resolved (the lookup itself could leave the machine).
import net from "node:net";
import { UsageError } from "./errors.js";

/** A target off this machine, and the user did not pass --allow-remote. */
export class RemoteTargetError extends UsageError {}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
// BlockList also matches IPv4-mapped IPv6 (::ffff:127.0.0.1) against the IPv4 subnet.
LOOPBACK.addAddress("::1", "ipv6");

/** A literal loopback address (any spelling: 127.x, ::1, 0:0::1, ::ffff:127.0.0.1) or "localhost". */
export function isLoopback(host: string): boolean {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (h.toLowerCase() === "localhost") return true;
  const family = net.isIP(h);
  if (family === 0) return false;
  return LOOPBACK.check(h, family === 4 ? "ipv4" : "ipv6");
}

/** Throws a one-line RemoteTargetError naming the host unless it is loopback or remote is allowed. */
export function assertLoopback(host: string, allowRemote: boolean, what = "send load to"): void {
  if (allowRemote || isLoopback(host)) return;
  throw new RemoteTargetError(`refusing to ${what} ${host}: not a loopback address (names other than localhost are not resolved); pass --allow-remote if this server is yours to test`);
}

/** Parses an http(s) URL given to `flag` and applies the same loopback policy to its host. */
export function loopbackUrl(text: string, flag: string, allowRemote: boolean): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${flag}: not a URL: "${text}" (e.g. http://127.0.0.1:25080/)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`${flag}: expected an http:// URL, got "${text}"`);
  assertLoopback(url.hostname, allowRemote, `use ${flag} at`);
  return url;
}
