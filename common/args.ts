// Flag values shared by every CLI: ports, counts, durations. Each parser names the flag and the
// bad value in a one-line UsageError, so every tool rejects nonsense the same way.
import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { parseDuration } from "./duration.js";
import { UsageError } from "./errors.js";

/** setTimeout's limit: a longer delay silently fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function parsePort(v: string, flag: string): number {
  const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`${flag} must be a port number 1-65535, got "${v}"`);
  return n;
}

export function parseCount(v: string, flag: string, min = 1): number {
  const n = /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} must be an integer >= ${min}, got "${v}"`);
  return n;
}

export function parsePositiveNumber(v: string, flag: string): number {
  const n = v.trim() === "" ? NaN : Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a number > 0, got "${v}"`);
  return n;
}

/** Milliseconds; 0 only when allowed, never beyond what a timer can wait. */
export function parseDurationFlag(v: string, flag: string, opts: { allowZero?: boolean } = {}): number {
  const d = parseDuration(v);
  if (d === null) throw new UsageError(`${flag}: not a duration: "${v}" (e.g. 500ms, 30s, 2m)`);
  if (d === 0 && opts.allowZero !== true) throw new UsageError(`${flag} must be > 0, got "${v}"`);
  if (d > MAX_TIMER_MS) throw new UsageError(`${flag}: ${v} is too long (at most ${MAX_TIMER_MS} ms, about 24 days)`);
  return d;
}

/** A directory the flag names must exist (a mistyped Maildir would make every message "lost"). */
export function assertDirectory(path: string, flag: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`${flag} ${path}: ${e.code === "ENOENT" ? "no such directory" : e.message}`);
  }
  if (!isDir) throw new UsageError(`${flag} ${path}: not a directory`);
}

/**
 * node:util parseArgs with errors a user can act on: "--sessions -1" is read as the value -1
 * (parseArgs would call it ambiguous), and a parse error is a one-line UsageError.
 */
export function parseCli<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  const options = config.options ?? {};
  const args = [...(config.args ?? [])];
  for (let i = 0; i < args.length - 1; i++) {
    const a = args[i] as string;
    const name = a.startsWith("--") ? a.slice(2) : Object.keys(options).find((k) => a === `-${options[k]?.short ?? "\0"}`);
    if (name === undefined || options[name]?.type !== "string") continue;
    if (/^-\d|^-\.\d/.test(args[i + 1] as string)) args.splice(i, 2, `--${name}=${args[i + 1] as string}`);
  }
  try {
    return parseArgs({ ...config, args } as T);
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split("\n")[0] ?? String(err)} (see --help)`);
  }
}
