// The state file of a target started by `smtpchaos target start`: which process hosts it (PID
// plus the start time and command line that tell it from a later process with the same PID),
// its endpoint, log and instance directory. Read strictly: a state file is input like any other.
import { UserError } from "../common/errors.js";
import { accessSync, constants, lstatSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, isAbsolute } from "node:path";
import type { Endpoint } from "./target.js";
import type { ProcessIdentity } from "./process/procfs.js";

/** A state directory or file that cannot be used: the CLI prints the message alone (exit 2). */
export class StateError extends UserError {}

export interface InstanceState {
  name: string;
  pid: number;
  /** absent in state files written before identities were recorded: such a PID is never signalled */
  identity?: ProcessIdentity;
  endpoint: Endpoint;
  log: string;
  /** the target's working directory, removed when a host killed with -9 left it behind */
  instanceDir?: string;
  /** started with --keep: the instance directory stays after stop */
  keepDir?: boolean;
  /** the MTA's processes by role when it started (the host's PID is the toolkit's own) */
  processes?: Array<{ role: string; pid: number }>;
  startedAt: string;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The state directory exists (created if needed), is writable, and the state file is not something else. Before anything is spawned. */
export function prepareStateDir(dir: string, file: string): void {
  if (lstatExists(dir) && !lstatSync(dir).isDirectory()) throw new StateError(`cannot use state directory ${dir}: it exists and is not a directory`);
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new StateError(`cannot use state directory ${dir}: ${errText(err)}`);
  }
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return; // absent: fine
  }
  if (!st.isFile()) throw new StateError(`state file ${file} is not a regular file`);
}

/** The state, null when there is no state file; StateError when it is unreadable or not one of ours. */
export function readState(file: string): InstanceState | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return null;
    throw new StateError(`cannot read state file ${file}: ${errText(err)}`);
  }
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new StateError(`state file ${file} is not valid JSON (${errText(err)}); remove it if no target runs from it`);
  }
  const ep = (o?.endpoint ?? null) as Record<string, unknown> | null;
  const id = (o?.identity ?? undefined) as Record<string, unknown> | undefined;
  const problem =
    o === null || typeof o !== "object" || Array.isArray(o)
      ? "not an object"
      : typeof o.name !== "string"
        ? '"name" missing'
        : !Number.isInteger(o.pid) || (o.pid as number) < 1
          ? '"pid" is not a positive integer'
          : ep === null || typeof ep !== "object" || typeof ep.host !== "string" || !Number.isInteger(ep.port)
            ? '"endpoint" missing or malformed'
            : typeof o.log !== "string"
              ? '"log" missing'
              : id !== undefined && (typeof id !== "object" || id === null || id.pid !== o.pid || typeof id.startTime !== "string" || typeof id.bootId !== "string" || typeof id.cmdline !== "string")
                ? '"identity" malformed'
                : o.instanceDir !== undefined && typeof o.instanceDir !== "string"
                  ? '"instanceDir" malformed'
                  : o.processes !== undefined && (!Array.isArray(o.processes) || !o.processes.every((p: unknown) => typeof (p as { role?: unknown })?.role === "string" && Number.isInteger((p as { pid?: unknown })?.pid)))
                    ? '"processes" malformed'
                    : null;
  if (problem !== null) throw new StateError(`state file ${file} is not a smtpchaos state file (${problem}); remove it if no target runs from it`);
  return { startedAt: "?", ...o } as unknown as InstanceState;
}

/** Written under a temporary name and renamed, so a reader never sees half a state file. */
export function writeState(file: string, state: InstanceState): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n", { flag: "w", mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new StateError(`cannot write state file ${file}: ${errText(err)}`);
  }
}

export function removeState(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch (err) {
    throw new StateError(`cannot remove state file ${file}: ${errText(err)}`);
  }
}

/**
 * Whether `dir` is an instance directory a target of ours created: a real directory (not a
 * symlink) of this user, directly in the temporary directory, named as the targets name theirs
 * (`smtpchaos-NAME-XXXXXX`, mkdtemp). A state file is editable text: nothing else is ever removed.
 */
export function isOwnInstanceDir(dir: string, name: string): boolean {
  if (!isAbsolute(dir) || !new RegExp(`^smtpchaos-${name}-[A-Za-z0-9]{6}$`).test(basename(dir))) return false;
  try {
    if (realpathSync(dirname(dir)) !== realpathSync(tmpdir())) return false;
    const st = lstatSync(dir);
    return st.isDirectory() && !st.isSymbolicLink() && st.uid === process.getuid?.();
  } catch {
    return false;
  }
}

/** Removes a dead instance's directory when it is ours; says what it did (for the user) or null. */
export function removeInstanceDir(state: InstanceState): string | null {
  const dir = state.instanceDir;
  if (dir === undefined) return null;
  if (state.keepDir === true) return `kept its instance directory ${dir} (--keep)`;
  if (!isOwnInstanceDir(dir, state.name)) return lstatExists(dir) ? `left ${dir} in place (not an instance directory of ours)` : null;
  rmSync(dir, { recursive: true, force: true });
  return `removed its instance directory ${dir}`;
}

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
