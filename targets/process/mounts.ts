// This process's view of the mount table (/proc/self/mountinfo): the recording file system finds
// its mounts here, and a directory with something still mounted under it is not removed.
import { readFileSync } from "node:fs";

export interface MountEntry {
  mountPoint: string;
  fstype: string;
  source: string;
}

/** mount points in /proc/self/mountinfo escape space, tab, newline and backslash as octal */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function mounts(): MountEntry[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((line) => {
      const f = line.split(" ");
      const tail = f.slice(f.indexOf("-", 6) + 1); // after the optional fields
      return { mountPoint: unescape(f[4] ?? ""), fstype: tail[0] ?? "", source: unescape(tail[1] ?? "") };
    });
}

/** `p` is `dir` or lies inside it. */
export const under = (p: string, dir: string): boolean => p === dir || p.startsWith(dir.endsWith("/") ? dir : dir + "/");

/** Something is mounted on `dir` or inside it. */
export function mountedUnder(dir: string): boolean {
  return mounts().some((m) => under(m.mountPoint, dir));
}
