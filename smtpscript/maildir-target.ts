// `expect delivered` against a server the toolkit does not run (`suite run --host --maildir`):
// its queue cannot be seen, so "delivered" means what is in its Maildirs once they have stopped
// changing for the settle time. Only each message's head is read (the header section is what
// `expect delivered` matches).
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { listingFingerprint, maildirSubdirs, waitUntilStable } from "../common/settle.js";
import type { ScriptTarget } from "./runner.js";

const HEAD_BYTES = 64 * 1024;

export class MaildirScriptTarget implements ScriptTarget {
  constructor(
    private readonly maildirs: readonly string[],
    /** how long the Maildirs must stay unchanged */
    private readonly settleMs: number,
    /** the longest wait for them to settle */
    private readonly maxWaitMs: number,
  ) {}

  /** Nothing to flush: the server delivers on its own schedule. */
  async flushQueue(): Promise<void> {}

  /** Not observable: delivered() waits for the Maildirs to settle instead. */
  async queueSize(): Promise<number> {
    return 0;
  }

  async delivered(): Promise<Array<{ data: Buffer }>> {
    const dirs = maildirSubdirs(this.maildirs);
    await waitUntilStable(() => listingFingerprint(dirs), { settleMs: this.settleMs, maxMs: this.maxWaitMs });
    const out: Array<{ data: Buffer }> = [];
    for (const box of this.maildirs) {
      for (const sub of ["new", "cur"]) {
        let names: string[];
        try {
          names = await readdir(join(box, sub));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
          throw err;
        }
        for (const n of names) out.push({ data: await readHead(join(box, sub, n)) });
      }
    }
    return out;
  }
}

async function readHead(file: string): Promise<Buffer> {
  let fh;
  try {
    fh = await open(file, "r");
  } catch (err) {
    // moved from new/ to cur/ (or expunged) between readdir and open: not ours to judge
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return Buffer.alloc(0);
    throw err;
  }
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
