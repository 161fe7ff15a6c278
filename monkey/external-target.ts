// A server the user runs (`monkey run --host H --port P`): the toolkit cannot start, restart or
// flush it, and can fault it only from outside (the network proxy). With --maildir it can still
// read what was delivered, so the ledger works; without, the ledger is skipped and said so.
import { SmtpSession } from "../smtp/session.js";
import type { CrashInfo, DeliveredMessage, Endpoint, RoleProcess, Target, TargetStatus } from "../targets/target.js";
import { maildirIds } from "../targets/process/maildir-ids.js";

export class ExternalTarget implements Target {
  readonly name: string;
  readonly domain: string;

  constructor(
    readonly endpoint: Endpoint,
    readonly mailboxes: readonly string[],
    private readonly maildirs: readonly string[],
  ) {
    this.name = `${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
    const first = mailboxes[0] ?? "";
    this.domain = first.slice(first.lastIndexOf("@") + 1);
  }

  get readsMailboxes(): boolean {
    return this.maildirs.length > 0;
  }

  /** Checks the server answers; it is the user's to start. */
  async start(): Promise<void> {
    const s = await SmtpSession.connect({ host: this.endpoint.host, port: this.endpoint.port, timeoutMs: 10_000, transcript: null });
    try {
      const banner = await s.readReply(undefined, "banner");
      if (banner.code !== 220) throw new Error(`${this.name} greeted with ${banner.code} ${banner.text}`);
    } finally {
      await s.quit();
    }
  }

  async stop(): Promise<void> {}

  /** Cannot restart a server we do not own: only checks it still answers. */
  async restart(): Promise<void> {
    await this.start();
  }

  async status(): Promise<TargetStatus> {
    return { running: true, pid: null, endpoint: this.endpoint, banner: null, crash: null };
  }

  logs(): readonly string[] {
    return [];
  }

  onLog(): () => void {
    return () => {};
  }

  crash(): CrashInfo | null {
    return null;
  }

  onCrash(): () => void {
    return () => {};
  }

  async flushQueue(): Promise<void> {}

  async queueSize(): Promise<number> {
    return 0;
  }

  async delivered(): Promise<DeliveredMessage[]> {
    return (await this.deliveredIds()).map((id) => ({ id, location: "maildir", size: 0, data: Buffer.alloc(0) }));
  }

  async deliveredIds(): Promise<Array<string | null>> {
    return maildirIds(this.maildirs);
  }

  async processes(): Promise<RoleProcess[]> {
    return [];
  }
}
