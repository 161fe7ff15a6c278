// What /proc says about a daemon: its process tree, command lines and listening sockets.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** argv joined by spaces (what ps shows, including rewritten process titles) */
  cmdline: string;
}

function read(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replace(/\0/g, " ");
    return { pid, ppid, cmdline };
  } catch {
    return null;
  }
}

/** One process's parent and command line, or null when it is gone. */
export function procInfo(pid: number): ProcInfo | null {
  return read(pid);
}

/** Live (non-zombie) descendants of `root`, breadth first. */
export function descendants(root: number): ProcInfo[] {
  const all: ProcInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const p = read(Number(name));
    if (p !== null && p.cmdline !== "") all.push(p);
  }
  const out: ProcInfo[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const parent = frontier.shift() as number;
    for (const p of all) {
      if (p.ppid === parent) {
        out.push(p);
        frontier.push(p.pid);
      }
    }
  }
  return out;
}

/** Inodes of the sockets listening on 127.0.0.1:port (or on any IPv4 address at that port). */
function listeningInodes(port: number): Set<string> {
  const want = port.toString(16).toUpperCase().padStart(4, "0");
  const out = new Set<string>();
  let table: string;
  try {
    table = readFileSync("/proc/net/tcp", "utf8");
  } catch {
    return out;
  }
  for (const line of table.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    const [addr, p] = (f[1] ?? "").split(":");
    if (f[3] === "0A" && p === want && (addr === "0100007F" || addr === "00000000") && f[9] !== undefined) out.add(f[9]);
  }
  return out;
}

/** Whether anything listens on 127.0.0.1:port. */
export function hasListener(port: number): boolean {
  return listeningInodes(port).size > 0;
}

/**
 * Whether the socket listening on 127.0.0.1:port belongs to one of these processes: a banner on
 * the port proves nothing when another program took the port first (our daemon then fails to bind).
 */
export function holdsListener(pids: readonly number[], port: number): boolean {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return false;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m !== null && inodes.has(m[1] as string)) return true;
    }
  }
  return false;
}
