import { readFileSync } from "node:fs";

/** The soft open-files limit of this process (Linux /proc), or null when unknown. */
export function fdLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (m === null || m[1] === "unlimited") return null;
    return Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * Descriptors a run needs for `sessions` at once: one socket each, twice that when the server
 * lives in this process too (its end of the connection, plus the message file it writes), and a
 * margin for Node itself, TLS keys, logs and report files.
 */
export function fdsNeeded(sessions: number, serverInProcess: boolean): number {
  return sessions * (serverInProcess ? 2 : 1) + 64;
}
