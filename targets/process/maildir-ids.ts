// The ledger ids of everything in some Maildirs, reading only the head of each file: a
// reconcile after hours of mail must not load every message into memory.
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { readMessageId } from "../../smtp/message.js";

const HEAD_BYTES = 16 * 1024;

export async function maildirIds(boxes: readonly string[]): Promise<Array<string | null>> {
  const ids: Array<string | null> = [];
  const head = Buffer.alloc(HEAD_BYTES);
  for (const box of boxes) {
    for (const sub of ["new", "cur"]) {
      let names: string[];
      try {
        names = await readdir(join(box, sub));
      } catch {
        continue;
      }
      for (const n of names) {
        const fh = await open(join(box, sub, n), "r");
        try {
          const { bytesRead } = await fh.read(head, 0, HEAD_BYTES, 0);
          ids.push(readMessageId(head.subarray(0, bytesRead)));
        } finally {
          await fh.close();
        }
      }
    }
  }
  return ids;
}
