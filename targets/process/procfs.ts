// What /proc says about a daemon's process tree: children of a PID and their command lines.
import { readdirSync, readFileSync } from "node:fs";

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
