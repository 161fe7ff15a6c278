// The durable queue. A message is committed when its envelope file is renamed into place,
// after the data file, both fsynced, and the directory fsynced: only then may the MTA say 250.
import { open, readdir, readFile, rename, rm } from "node:fs/promises";
import { mkdirDurable, syncDir } from "./durable.js";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { FaultPoints } from "./fault-points.js";

export interface Envelope {
  id: string;
  from: string;
  recipients: Array<{ address: string; done: boolean }>;
  receivedAt: string;
}

export class Spool {
  constructor(
    readonly dir: string,
    private readonly faults: () => FaultPoints,
  ) {}

  async init(): Promise<void> {
    await mkdirDurable(this.dir);
    // A data file without an envelope was never acknowledged: the crash came before the commit.
    const names = await readdir(this.dir);
    const envs = new Set(names.filter((n) => n.endsWith(".env")).map((n) => n.slice(0, -4)));
    for (const n of names) {
      if (n.endsWith(".tmp") || (n.endsWith(".msg") && !envs.has(n.slice(0, -4)))) await rm(join(this.dir, n), { force: true });
    }
  }

  newId(): string {
    return `${Date.now().toString(36)}${randomBytes(5).toString("hex")}`.toUpperCase();
  }

  async put(env: Envelope, data: Buffer, clientPort?: number): Promise<void> {
    const ctx = { phase: "DATA" as const, queueId: env.id, ...(clientPort !== undefined ? { clientPort } : {}) };
    await this.writeDurably(`${env.id}.msg`, data, ctx);
    await this.writeDurably(`${env.id}.env`, Buffer.from(JSON.stringify(env)), ctx);
    await this.syncDir();
  }

  async update(env: Envelope): Promise<void> {
    await this.writeDurably(`${env.id}.env`, Buffer.from(JSON.stringify(env)), { phase: "queue", queueId: env.id });
    await this.syncDir();
  }

  async list(): Promise<string[]> {
    return (await readdir(this.dir)).filter((n) => n.endsWith(".env")).map((n) => n.slice(0, -4)).sort();
  }

  async read(id: string): Promise<{ env: Envelope; data: Buffer }> {
    await this.faults().check("queue.read", { phase: "queue", queueId: id });
    const env = JSON.parse(await readFile(join(this.dir, `${id}.env`), "utf8")) as Envelope;
    const data = await readFile(join(this.dir, `${id}.msg`));
    return { env, data };
  }

  async remove(id: string): Promise<void> {
    // Envelope first: a leftover .msg is cleaned at start, a leftover .env would deliver twice.
    await rm(join(this.dir, `${id}.env`), { force: true });
    await rm(join(this.dir, `${id}.msg`), { force: true });
  }

  private async writeDurably(name: string, data: Buffer, ctx: { phase: "DATA" | "queue"; queueId: string; clientPort?: number }): Promise<void> {
    const f = this.faults();
    const tmp = join(this.dir, `${name}.tmp`);
    await f.check("queue.open", ctx);
    const fh = await open(tmp, "w", 0o600);
    try {
      await f.check("queue.write", ctx);
      await fh.writeFile(data);
      await f.check("queue.fsync", ctx);
      await fh.sync();
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    try {
      await f.check("queue.rename", ctx);
      await rename(tmp, join(this.dir, name));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  private async syncDir(): Promise<void> {
    await syncDir(this.dir);
  }
}
