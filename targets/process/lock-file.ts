// An exclusive lock file (created with O_EXCL) naming its owner by PID and start time, so two
// commands never manage the same state at once, and a lock left by a killed command is
// recognised as stale (its owner is gone or the PID now names another process) and broken.
import { UserError } from "../../common/errors.js";
import { linkSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { isSameProcess, processIdentity } from "./procfs.js";
import type { ProcessIdentity } from "./procfs.js";

export class LockBusyError extends UserError {
  constructor(
    readonly path: string,
    readonly owner: number,
  ) {
    super(`${path} is held by pid ${owner}`);
  }
}

export interface LockFile {
  readonly path: string;
  release(): void;
}

function parseOwner(text: string): ProcessIdentity | null {
  try {
    const o = JSON.parse(text) as Partial<ProcessIdentity>;
    if (typeof o.pid !== "number" || typeof o.startTime !== "string" || typeof o.bootId !== "string" || typeof o.cmdline !== "string") return null;
    return o as ProcessIdentity;
  } catch {
    return null;
  }
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/**
 * Takes the lock or throws LockBusyError (its owner is alive). Other errors (directory missing or
 * not writable) propagate as they are.
 */
export function acquireLock(path: string): LockFile {
  const me = processIdentity(process.pid);
  if (me === null) throw new Error(`cannot read /proc/${process.pid}: locks need Linux procfs`);
  const content = JSON.stringify(me);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, content, { flag: "wx", mode: 0o600 });
      return { path, release: () => release(path, content) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const text = readOrNull(path);
    if (text === null) continue; // released meanwhile
    const owner = parseOwner(text);
    // A lock being written this instant reads empty: give its owner a moment before calling it stale.
    if (owner === null && text === "" && Date.now() - mtimeMs(path) < 5000) throw new LockBusyError(path, 0);
    if (owner !== null && isSameProcess(owner)) throw new LockBusyError(path, owner.pid);
    breakStale(path, text);
  }
  throw new LockBusyError(path, 0);
}

/**
 * Moves the stale lock aside under a name of our own, and deletes it only if it is still the
 * stale one we read: if another command replaced it meanwhile, its lock is put back.
 */
function breakStale(path: string, staleText: string): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (readOrNull(aside) === staleText) {
    unlinkSync(aside);
    return;
  }
  try {
    linkSync(aside, path);
  } catch (err) {
    // a third command took the lock meanwhile: it holds it, we back off
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new LockBusyError(path, 0);
    throw err;
  } finally {
    unlinkSync(aside);
  }
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function release(path: string, content: string): void {
  // Only our own lock: never one another command took after ours was broken as stale.
  if (readOrNull(path) === content) unlinkSync(path);
}
