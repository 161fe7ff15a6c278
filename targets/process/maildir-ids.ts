// The ledger ids of everything in some Maildirs, reading only the head of each file: a
// reconcile after hours of mail must not load every message into memory. The directories are
// streamed (opendir) and each head read synchronously into one buffer: no name list, promise or
// file handle per message (an hour's soak is hundreds of thousands of files).
import { closeSync, openSync, readSync } from "node:fs";
import { opendir } from "node:fs/promises";
import { join } from "node:path";
import { readMessageId } from "../../smtp/message.js";

const HEAD_BYTES = 16 * 1024;

export async function maildirIds(boxes: readonly string[]): Promise<Array<string | null>> {
  const ids: Array<string | null> = [];
  const head = Buffer.alloc(HEAD_BYTES);
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
        let fd: number;
        try {
          fd = openSync(join(path, e.name), "r");
        } catch {
          // gone since the directory was read
          continue;
        }
        try {
          ids.push(readMessageId(head.subarray(0, readSync(fd, head, 0, HEAD_BYTES, 0))));
        } finally {
          closeSync(fd);
        }
      }
    }
  }
  return ids;
}
