// The ledger ids of the messages in a Postfix queue, read from its queue files: one process for
// the whole queue (postcat is one per message). A queue file is a sequence of records: a type
// byte, the length as a base-128 number (low 7 bits first, the high bit set on every byte but
// the last), then the data. Message lines are REC_TYPE_NORM ('N') records, a long line continues
// in REC_TYPE_CONT ('L') records; the first line of ours naming an X-Smtpchaos-Id is the
// message's own header, or in a queued bounce the header of the message it reports on (its
// copy of the original comes after its own headers, which carry none).
import { closeSync, openSync, readSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { MESSAGE_ID_HEADER } from "../../smtp/message.js";

/** the queues a message may be in, from its arrival to its removal */
const QUEUES = ["maildrop", "incoming", "active", "deferred", "hold"] as const;

const REC_TYPE_NORM = 0x4e; // 'N'
const REC_TYPE_CONT = 0x4c; // 'L'
const HEADER = `${MESSAGE_ID_HEADER}:`.toLowerCase();
/** how much of a queue file is read: a bounce's copy of the original's headers comes after its own report */
const READ_BYTES = 256 * 1024;

/** The id a queue file's message carries (or, for a bounce, the one it reports on), or null. */
export function queueFileId(file: Buffer): string | null {
  let i = 0;
  let prevCont = false;
  while (i < file.length) {
    const type = file[i++] as number;
    let len = 0;
    let shift = 0;
    for (;;) {
      if (i >= file.length || shift > 28) return null;
      const b = file[i++] as number;
      len |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    const start = i;
    i += len;
    if (i > file.length) return null;
    // a record that continues an earlier line is not the start of a header
    const lineStart = !prevCont;
    prevCont = type === REC_TYPE_CONT;
    if ((type !== REC_TYPE_NORM && type !== REC_TYPE_CONT) || !lineStart || len <= HEADER.length) continue;
    if (file.toString("latin1", start, start + HEADER.length).toLowerCase() !== HEADER) continue;
    const value = file.toString("latin1", start + HEADER.length, start + len).trim();
    const id = /^\S+/.exec(value)?.[0];
    if (id !== undefined) return id;
  }
  return null;
}

/** Every queue file under one queue directory (the deferred queue is hashed into subdirectories). */
async function queueFiles(dir: string, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.isDirectory()) await queueFiles(join(dir, e.name), out);
    else if (e.isFile()) out.push(join(dir, e.name));
  }
}

/**
 * The ids in a Postfix queue directory. A message moves between queues (incoming, active,
 * deferred) by rename, so a file can vanish between the listing and its read: the queue is
 * listed twice and what either listing found counts.
 */
export async function queueFileIds(queueDirectory: string): Promise<string[]> {
  const ids = new Set<string>();
  const buf = Buffer.alloc(READ_BYTES);
  for (let pass = 0; pass < 2; pass++) {
    const files: string[] = [];
    for (const q of QUEUES) await queueFiles(join(queueDirectory, q), files);
    for (const f of files) {
      let fd: number;
      try {
        fd = openSync(f, "r");
      } catch {
        continue;
      }
      try {
        const id = queueFileId(buf.subarray(0, readSync(fd, buf, 0, READ_BYTES, 0)));
        if (id !== null) ids.add(id);
      } finally {
        closeSync(fd);
      }
    }
  }
  return [...ids];
}
