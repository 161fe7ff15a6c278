// No MTA outlives the toolkit that started it. Each running instance is recorded in a per-user
// directory with the identities (PID, start time, boot) of its owner (this process) and of the
// MTA's first process. When this process exits in any way that runs its exit handlers (a second
// Ctrl-C, an uncaught error, process.exit), its instances are killed at once, by verified PID
// and process group, and their directories removed. When it cannot run them (SIGKILL), the
// record stays: the next `target start` or `target clean` finds an owner that is gone, stops the
// orphan the same way and removes its directory.
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { removeTreeSync } from "./remove-tree.js";
import { mountedUnder } from "./mounts.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { groupMembers, processIdentity, type ProcessIdentity } from "./procfs.js";
import { isOwnInstanceDir } from "../instance-state.js";

interface Started {
  pid: number;
  startTime: string;
  bootId: string;
}

interface RecordFile {
  name: string;
  dir: string;
  /** the MTA was spawned as a process-group leader: the whole group is its */
  group: boolean;
  /** the directory is the toolkit's to remove (not --keep, not given by the user) */
  ownsDir: boolean;
  owner: Started;
  mta: Started;
}

const registry = (): string => join(tmpdir(), `smtpchaos-instances-${process.getuid?.() ?? "user"}`);
const fileOf = (dir: string): string => join(registry(), `${dir.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`);

/** Start time and boot: an exec (unshare, then sh, then the MTA) changes the command line, not these. */
function started(id: ProcessIdentity): Started {
  return { pid: id.pid, startTime: id.startTime, bootId: id.bootId };
}

function alive(s: Started): boolean {
  const now = processIdentity(s.pid);
  return now !== null && now.startTime === s.startTime && now.bootId === s.bootId;
}

/** The instances this process runs now, for the exit handler. */
const live = new Map<string, RecordFile>();
let exitHook = false;

/** One instance's record, kept from its start to its stop. */
export class OrphanGuard {
  constructor(
    private readonly name: string,
    private readonly group: boolean,
  ) {}

  private dir: string | null = null;

  /** The MTA runs as `pid` (again, after a restart) with its files in `dir`. */
  started(pid: number, dir: string, ownsDir: boolean): void {
    const owner = processIdentity(process.pid);
    const mta = processIdentity(pid);
    if (owner === null || mta === null) return;
    const rec: RecordFile = { name: this.name, dir, group: this.group, ownsDir, owner: started(owner), mta: started(mta) };
    mkdirSync(registry(), { recursive: true, mode: 0o700 });
    writeFileSync(fileOf(dir), JSON.stringify(rec));
    this.dir = dir;
    live.set(dir, rec);
    if (!exitHook) {
      exitHook = true;
      process.on("exit", () => {
        for (const r of live.values()) reap(r);
      });
      // A signal nobody else handles would end this process without its exit handlers: end it
      // the same way (128 + the signal), through them. A command that handles it (an interrupt
      // that still reports) stops its targets itself. Called first, so that the others (once()
      // ones too) are still counted.
      for (const [sig, code] of [["SIGHUP", 129], ["SIGINT", 130], ["SIGTERM", 143]] as const) {
        process.prependListener(sig, () => {
          if (process.listenerCount(sig) === 1) process.exit(code);
        });
      }
    }
  }

  /** The directory is kept after all (keepFiles). */
  keep(): void {
    const r = this.dir === null ? undefined : live.get(this.dir);
    if (r === undefined) return;
    r.ownsDir = false;
    writeFileSync(fileOf(r.dir), JSON.stringify(r));
  }

  /** The MTA is down and its directory dealt with. */
  stopped(): void {
    if (this.dir === null) return;
    live.delete(this.dir);
    try {
      unlinkSync(fileOf(this.dir));
    } catch {
      // never written (the start failed before the MTA ran)
    }
    this.dir = null;
  }
}

/** SIGKILL to an instance's processes, verified; then its directory, when ours and nothing is mounted in it. Says what it did. */
function reap(r: RecordFile): string {
  const done: string[] = [];
  // the group outlives its leader while members remain, and its id is not handed out meanwhile;
  // a process now holding the leader's PID is someone else's (its group too)
  const leaderGone = processIdentity(r.mta.pid) === null;
  const members = r.group && leaderGone ? groupMembers(r.mta.pid) : [];
  if (alive(r.mta) || members.length > 0) {
    try {
      process.kill(r.group ? -r.mta.pid : r.mta.pid, "SIGKILL");
      done.push(`killed ${r.group ? `process group ${r.mta.pid}` : `pid ${r.mta.pid}`}`);
    } catch {
      // gone in between
    }
  }
  // a recording file system or a bind mount still inside: not removed now (a later clean will)
  const mounted = mountedUnder(r.dir);
  if (r.ownsDir && isOwnInstanceDir(r.dir, r.name) && !mounted) {
    removeTreeSync(r.dir);
    done.push(existsSync(r.dir) ? `could not remove ${r.dir}` : `removed ${r.dir}`);
  }
  if (!mounted) {
    try {
      unlinkSync(fileOf(r.dir));
    } catch {
      // already gone
    }
  }
  return `${r.name}: ${done.length > 0 ? done.join(", ") : "nothing left to stop"}`;
}

/**
 * Stops every recorded instance whose owner is gone (a toolkit killed with SIGKILL) and removes
 * its directory; instances of a live toolkit are left alone. What it did, one line each.
 */
export function reapOrphans(): string[] {
  let names: string[];
  try {
    names = readdirSync(registry()).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    let r: RecordFile;
    try {
      r = JSON.parse(readFileSync(join(registry(), n), "utf8")) as RecordFile;
    } catch {
      continue;
    }
    if (typeof r?.dir !== "string" || typeof r.mta?.pid !== "number" || typeof r.owner?.pid !== "number") continue;
    if (alive(r.owner)) continue;
    out.push(reap(r));
  }
  return out;
}
