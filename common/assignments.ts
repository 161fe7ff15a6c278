import { UsageError } from "./errors.js";

/** Parses repeated NAME=VALUE flags (-D, --postconf); a malformed one is a UsageError naming the flag. */
export function parseAssignments(list: readonly string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`${flag} expects NAME=VALUE, got "${item}"`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}
