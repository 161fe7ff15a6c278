// Waiting for a server we do not run to finish delivering: its queue cannot be read, so the only
// evidence is its output. Deliveries are over once the output stops changing for a settle time
// (bounded by a deadline, since a busy server may never go quiet).
import { readdir } from "node:fs/promises";

export interface SettleResult {
  /** true when nothing changed for the settle time; false when the deadline came first */
  settled: boolean;
  /** how long the wait took, ms */
  waitedMs: number;
}

/**
 * Polls `fingerprint` until it returns the same value for `settleMs` in a row, or until
 * `maxMs` has passed, or until `signal` aborts (an interrupted run reports at once). The first
 * value is taken at once: a wait always lasts at least settleMs (or maxMs when smaller) unless
 * interrupted.
 */
export async function waitUntilStable(
  fingerprint: () => Promise<string>,
  o: { settleMs: number; maxMs: number; pollMs?: number; signal?: AbortSignal },
): Promise<SettleResult> {
  const started = Date.now();
  const deadline = started + o.maxMs;
  const poll = o.pollMs ?? Math.max(50, Math.min(500, Math.floor(o.settleMs / 10)));
  let last = await fingerprint();
  let since = Date.now();
  for (;;) {
    const now = Date.now();
    if (now - since >= o.settleMs) return { settled: true, waitedMs: now - started };
    if (now >= deadline || o.signal?.aborted === true) return { settled: false, waitedMs: now - started };
    await pause(Math.min(poll, deadline - now), o.signal);
    const next = await fingerprint();
    if (next !== last) {
      last = next;
      since = Date.now();
    }
  }
}

/**
 * Sleeps `ms`, or less when `signal` aborts first. It resolves either way (the caller reads the
 * signal): a wait cut short by an interrupt is not an error, the run goes on to report.
 */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * What changes when a file is written into, renamed within or removed from any of `dirs`: their
 * entry names (sorted, so readdir's order does not matter). A directory that does not exist
 * counts as empty: a Maildir's new/ may only appear with the first delivery.
 */
export async function listingFingerprint(dirs: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const d of dirs) {
    let names: string[];
    try {
      names = await readdir(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") names = [];
      else throw err;
    }
    parts.push(`${d}\0${names.sort().join("\0")}`);
  }
  return parts.join("\n");
}
