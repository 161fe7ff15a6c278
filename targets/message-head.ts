// What a message file is (ordinary message or bounce, and its ledger id), read from its head
// only: a reconcile after hours of mail must not load every message into memory. Each head is
// read synchronously into one buffer the reader keeps: no promise or file handle per message (an
// hour's soak is hundreds of thousands of files). Bounces (DSNs) give the id of the message they
// report on (targets/dsn.ts).
import { closeSync, openSync, readSync } from "node:fs";
import { readMessage } from "./dsn.js";
import type { ReadMessage } from "./dsn.js";

const HEAD_BYTES = 16 * 1024;
/** how far into a bounce the original's headers are looked for when they are not in its head */
const BOUNCE_BYTES = 256 * 1024;

/** Reads message files' heads into buffers it keeps (one reader per listing). */
export class HeadReader {
  private readonly head = Buffer.alloc(HEAD_BYTES);
  private big: Buffer | null = null;

  /** What the file is (ordinary message or bounce, with its id), or null when it is gone. */
  read(path: string): ReadMessage | null {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      // gone since the directory was read
      return null;
    }
    try {
      const n = readSync(fd, this.head, 0, HEAD_BYTES, 0);
      const m = readMessage(this.head.subarray(0, n));
      if (m.kind !== "bounce" || m.id !== null || n < HEAD_BYTES) return m;
      // a bounce whose copy of the original starts further in
      this.big ??= Buffer.alloc(BOUNCE_BYTES);
      return readMessage(this.big.subarray(0, readSync(fd, this.big, 0, BOUNCE_BYTES, 0)));
    } finally {
      closeSync(fd);
    }
  }
}

/** The ids of message files (a queue's): a message's own, a bounce's original; files gone or without one are left out. */
export function fileIds(paths: Iterable<string>): string[] {
  const reader = new HeadReader();
  const ids: string[] = [];
  for (const p of paths) {
    const m = reader.read(p);
    if (m !== null && m.id !== null) ids.push(m.id);
  }
  return ids;
}
