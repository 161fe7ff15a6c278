// Waiting for deliveries into Maildirs to be over when the queue feeding them cannot be counted
// (a target file without a queue-size command, a server the user runs): they are over once no
// file has appeared in, moved within or vanished from any of the boxes for the settle time.
import { listingFingerprint, waitUntilStable } from "../../common/settle.js";
import type { SettleResult } from "../../common/settle.js";
import { listingError } from "./read.js";

/** Waits until the listings of `boxes` stay unchanged for settleMs (at most maxMs; an abort of `signal` ends it at once). No message is read. */
export function settleMaildirs(boxes: readonly string[], settleMs: number, maxMs: number, signal?: AbortSignal): Promise<SettleResult> {
  const dirs = maildirSubdirs(boxes);
  const fingerprint = (): Promise<string> =>
    listingFingerprint(dirs).catch((err: unknown) => {
      throw listingError(err);
    });
  return waitUntilStable(fingerprint, { settleMs, maxMs, signal });
}

/** The subdirectories of Maildirs whose listings change as mail is delivered (tmp/ while a file is written). */
function maildirSubdirs(boxes: readonly string[]): string[] {
  return boxes.flatMap((m) => ["tmp", "new", "cur"].map((s) => `${m}/${s}`));
}
