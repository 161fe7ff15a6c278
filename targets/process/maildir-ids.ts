// The ledger ids of everything in some Maildirs, reading only the head of each file: a
// reconcile after hours of mail must not load every message into memory. The directories are
// streamed (opendir) and each head read synchronously into one buffer: no name list, promise or
// file handle per message (an hour's soak is hundreds of thousands of files). Bounces (DSNs) are
// told apart: they give the id of the message they report on (targets/dsn.ts).
import { closeSync, openSync, readSync } from "node:fs";
import { opendir } from "node:fs/promises";
import { join } from "node:path";
import { readMessage } from "../dsn.js";
import type { ReadMessage } from "../dsn.js";
import type { DeliveredIds } from "../target.js";

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

export async function maildirIds(boxes: readonly string[]): Promise<DeliveredIds> {
  const out: DeliveredIds = { delivered: [], bounced: [] };
  const reader = new HeadReader();
  for (const box of boxes) {
    for (const sub of ["new", "cur"]) {
      const path = join(box, sub);
      let dir;
      try {
        dir = await opendir(path, { bufferSize: 256 });
      } catch {
        continue;
      }
      for await (const e of dir) {
        if (!e.isFile()) continue;
        const m = reader.read(join(path, e.name));
        if (m === null) continue;
        if (m.kind === "message") out.delivered.push(m.id);
        else if (m.kind === "bounce") out.bounced.push(m.id);
        // a delay warning or success notice says nothing of the message's fate
      }
    }
  }
  return out;
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
