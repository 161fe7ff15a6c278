// Reading what was delivered into Maildirs, for every target: one walk over each box's new/ then
// cur/, and three readings of the files it finds: their ledger ids (heads only, bounces apart),
// their first bytes, or the whole messages. A file an MUA moves or expunges between the listing
// and its reading is left out; a box (or its new/) that does not exist yet is empty, since it
// may only appear with the first delivery. Any other failure to list one is an error: a silently
// skipped Maildir would count every message in it lost.
import { open, opendir } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../../common/errors.js";
import { deliveredMessage } from "../dsn.js";
import { HeadReader } from "../message-head.js";
import type { DeliveredIds, DeliveredMessage } from "../target.js";

/** A Maildir directory exists but cannot be listed (permissions, not a directory). */
export class MaildirReadError extends UserError {}

/** A listing that failed other than by not existing (yet), as the error the user can act on. */
export function listingError(err: unknown): MaildirReadError {
  return new MaildirReadError(`cannot list a Maildir directory: ${(err as Error).message}`, { cause: err });
}

/** One message file as read: `data` is the whole file or its head; `size` is the file's. */
export interface MaildirFile {
  path: string;
  data: Buffer;
  size: number;
}

/**
 * The message files of `boxes`, each box's new/ then cur/. Streamed (a small directory buffer,
 * no name list: memory stays flat however much mail there is), or `sorted` by name within each
 * directory where a caller keeps every file anyway and wants a stable order.
 */
async function* messagePaths(boxes: readonly string[], sorted: boolean): AsyncGenerator<string> {
  for (const box of boxes) {
    for (const sub of ["new", "cur"]) {
      const dir = join(box, sub);
      if (!sorted) {
        for await (const name of fileNames(dir)) yield join(dir, name);
        continue;
      }
      const names: string[] = [];
      for await (const name of fileNames(dir)) names.push(name);
      for (const name of names.sort()) yield join(dir, name);
    }
  }
}

async function* fileNames(dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await opendir(dir, { bufferSize: 256 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw listingError(err);
  }
  for await (const e of entries) if (e.isFile()) yield e.name;
}

/** The ledger ids of everything delivered into `boxes`, bounces apart, reading each file's head only. */
export async function maildirIds(boxes: readonly string[]): Promise<DeliveredIds> {
  const out: DeliveredIds = { delivered: [], bounced: [] };
  const reader = new HeadReader();
  for await (const path of messagePaths(boxes, false)) {
    const m = reader.read(path);
    if (m === null) continue;
    if (m.kind === "message") out.delivered.push(m.id);
    else if (m.kind === "bounce") out.bounced.push(m.id);
    // a delay warning or success notice says nothing of the message's fate
  }
  return out;
}

/** Every message file in `boxes`, by name within each directory: whole, or its first `headBytes`. */
export async function maildirFiles(boxes: readonly string[], headBytes?: number): Promise<MaildirFile[]> {
  const out: MaildirFile[] = [];
  for await (const path of messagePaths(boxes, true)) {
    const f = await readMessageFile(path, headBytes);
    if (f !== null) out.push(f);
  }
  return out;
}

/** Every message in `boxes` as a target delivered it (a bounce with the id it reports on): whole, or its first `headBytes`. */
export async function maildirDelivered(boxes: readonly string[], headBytes?: number): Promise<DeliveredMessage[]> {
  return (await maildirFiles(boxes, headBytes)).map((f) => ({ ...deliveredMessage(f.path, f.data), size: f.size }));
}

/** A message file, whole or its first `headBytes`; null when it is gone (moved or expunged since it was listed). */
export async function readMessageFile(path: string, headBytes?: number): Promise<MaildirFile | null> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    if (headBytes === undefined) {
      const data = await fh.readFile();
      return { path, data, size: data.length };
    }
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(Math.min(size, headBytes));
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return { path, data: head.subarray(0, bytesRead), size };
  } finally {
    await fh.close();
  }
}
