// What /proc says about a daemon: its process tree, command lines and listening sockets.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** argv joined by spaces (what ps shows, including rewritten process titles) */
  cmdline: string;
}

/**
 * The fields of /proc/PID/stat we use, or null when it is gone. They follow the parenthesized
 * command name (which may itself hold spaces and parentheses): field 3 (state) is index 0 after
 * it, so field 22 (starttime, clock ticks since boot) is index 19.
 */
function stat(pid: number | string): { state: string; ppid: number; pgrp: number; startTime: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: f[0] ?? "", ppid: Number(f[1]), pgrp: Number(f[2]), startTime: f[19] ?? "" };
}

/** Zombies (which this VM's init never reaps) and dying processes are not live. */
const live = (state: string): boolean => state !== "Z" && state !== "X";

/** One process's parent and command line, or null when it is gone. */
export function procInfo(pid: number): ProcInfo | null {
  const st = stat(pid);
  if (st === null) return null;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replace(/\0/g, " ");
    return { pid, ppid: st.ppid, cmdline };
  } catch {
    return null;
  }
}

/** A process's executable path ("" when it is gone or not ours to read). */
export function exePath(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return "";
  }
}

/**
 * What tells one process from a later one that got the same PID: its start time and this boot
 * (start times restart at 0 after a reboot), plus its command line.
 */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
  bootId: string;
  cmdline: string;
}

function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}

/** The identity of a live process, or null when it is gone (or a zombie). */
export function processIdentity(pid: number): ProcessIdentity | null {
  const st = stat(pid);
  if (st === null || !live(st.state) || st.startTime === "") return null;
  const info = procInfo(pid);
  if (info === null) return null;
  return { pid, startTime: st.startTime, bootId: bootId(), cmdline: info.cmdline };
}

/** Whether `id` still names the same live process: never signal a PID for which this is false. */
export function isSameProcess(id: ProcessIdentity): boolean {
  const now = processIdentity(id.pid);
  return now !== null && now.startTime === id.startTime && now.bootId === id.bootId && now.cmdline === id.cmdline;
}

/** Live (non-zombie) descendants of `root`, breadth first. */
export function descendants(root: number): ProcInfo[] {
  const all: ProcInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const p = procInfo(Number(name));
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

/** Whether a process exists and is not a zombie (kill(pid, 0) succeeds on zombies, which this VM's init never reaps). */
export function isLive(pid: number): boolean {
  const st = stat(pid);
  return st !== null && live(st.state);
}

/**
 * Live members of a process group. A daemon's children can outlive its main process by a moment
 * (still holding its listening socket); orphaned zombies do not count.
 */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const st = stat(name);
    if (st !== null && st.pgrp === pgid && live(st.state)) out.push(Number(name));
  }
  return out;
}

export type IpFamily = 4 | 6;

/**
 * Where the kernel lists each family's TCP sockets, and the local addresses that serve loopback
 * clients of that family: the loopback address itself or the wildcard. Addresses are hex of the
 * 32-bit words in host (little-endian) order: 127.0.0.1 is 0100007F, ::1 ends in 01000000.
 */
const TABLES: Record<IpFamily, { file: string; addrs: readonly string[] }> = {
  4: { file: "/proc/net/tcp", addrs: ["0100007F", "00000000"] },
  6: { file: "/proc/net/tcp6", addrs: ["00000000000000000000000001000000", "00000000000000000000000000000000"] },
};

/** Rows of a family's TCP table: local address and port (hex), remote port, state, inode. */
function tcpRows(family: IpFamily): Array<{ addr: string; port: string; remotePort: string; state: string; inode: string }> {
  let table: string;
  try {
    table = readFileSync(TABLES[family].file, "utf8");
  } catch {
    return []; // no IPv6 in this kernel: nothing listens there
  }
  const out = [];
  for (const line of table.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    const [addr, port] = (f[1] ?? "").split(":");
    const remotePort = (f[2] ?? "").split(":")[1];
    if (addr === undefined || port === undefined || remotePort === undefined || f[3] === undefined || f[9] === undefined) continue;
    out.push({ addr, port, remotePort, state: f[3], inode: f[9] });
  }
  return out;
}

const hexPort = (port: number): string => port.toString(16).toUpperCase().padStart(4, "0");

/** Inodes of the sockets listening on 127.0.0.1:port or ::1:port (or that family's wildcard at that port). */
function listeningInodes(port: number, family: IpFamily): Set<string> {
  const want = hexPort(port);
  const addrs = TABLES[family].addrs;
  return new Set(tcpRows(family).filter((r) => r.state === "0A" && r.port === want && addrs.includes(r.addr)).map((r) => r.inode));
}

/** Inodes of the sockets a process holds (none when it is gone). */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m !== null) out.add(m[1] as string);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/**
 * The clients a process is serving on `port`: the remote ports of the established connections to
 * that local port whose sockets it holds (what a kill or pause of it cuts off).
 */
export function servedPeers(pid: number, port: number): number[] {
  const mine = socketInodes(pid);
  if (mine.size === 0) return [];
  const want = hexPort(port);
  const out: number[] = [];
  for (const family of [4, 6] as const) {
    for (const r of tcpRows(family)) if (r.state === "01" && r.port === want && mine.has(r.inode)) out.push(parseInt(r.remotePort, 16));
  }
  return out;
}

/** Whether anything listens on 127.0.0.1:port or ::1:port (of the given families, both by default). */
export function hasListener(port: number, families: readonly IpFamily[] = [4, 6]): boolean {
  return families.some((f) => listeningInodes(port, f).size > 0);
}

/**
 * Whether the socket listening on 127.0.0.1:port (family 6: ::1:port) belongs to one of these
 * processes: a banner on the port proves nothing when another program took the port first (our
 * daemon then fails to bind).
 */
export function holdsListener(pids: readonly number[], port: number, family: IpFamily = 4): boolean {
  const inodes = listeningInodes(port, family);
  if (inodes.size === 0) return false;
  return pids.some((pid) => [...socketInodes(pid)].some((i) => inodes.has(i)));
}
