// Maildir delivery (tmp/ then rename into new/). File names derive from the queue id and the
// recipient, so redelivering after a crash finds the earlier copy instead of writing a second.
import { open, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { mkdirDurable, syncDir } from "./durable.js";
import { hostname } from "node:os";

export class Maildir {
  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    for (const sub of ["tmp", "new", "cur"]) await mkdirDurable(join(this.dir, sub));
  }

  /** Returns false when this (queue id, recipient index) was already delivered. */
  async deliver(queueId: string, rcptIndex: number, data: Buffer): Promise<boolean> {
    const name = `${queueId}.R${rcptIndex}.${hostname()}`;
    const final = join(this.dir, "new", name);
    if (await exists(final)) return false;
    const tmp = join(this.dir, "tmp", name);
    const fh = await open(tmp, "w", 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, final);
    // the name in new/ is the delivery: durable before the queue forgets the message
    await syncDir(join(this.dir, "new"));
    return true;
  }

}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
