// Reads `strace -f -e trace=network` output: which IP peers did a daemon address?

/** IP addresses named in calls that address a peer (connect, send*, bind); netlink and unix sockets are not peers. */
export function networkPeers(trace: string): string[] {
  const out: string[] = [];
  for (const line of trace.split("\n")) {
    if (!/^\d+\s+(connect|sendto|sendmsg|sendmmsg|bind)\(/.test(line)) continue;
    if (line.includes("AF_NETLINK") || line.includes("AF_UNIX")) continue;
    for (const m of line.matchAll(/inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"/g)) out.push((m[1] ?? m[2]) as string);
  }
  return out;
}

export function isLoopbackOrAny(addr: string): boolean {
  return addr.startsWith("127.") || addr === "::1" || addr === "0.0.0.0" || addr === "::" || addr.startsWith("::ffff:127.");
}
