// A server the user runs (`monkey run --host H --port P`): the toolkit cannot start, restart or
// flush it, and can fault it only from outside (the network proxy). With --maildir it can still
// read what was delivered, so the ledger works; without, the ledger is skipped and said so.
import { SmtpSession } from "../smtp/session.js";
import { SmtpConnectError, SmtpError } from "../smtp/errors.js";
import type { CrashInfo, DeliveredMessage, Endpoint, RoleProcess, Target, TargetStatus } from "../targets/target.js";
import { maildirIds } from "../targets/process/maildir-ids.js";

/** The server did not greet like an SMTP server at the startup probe: nothing to test yet. */
export class TargetProbeError extends Error {
  override readonly name = "TargetProbeError";
}

export class ExternalTarget implements Target {
  readonly name: string;
  readonly domain: string;

  constructor(
    readonly endpoint: Endpoint,
    readonly mailboxes: readonly string[],
    private readonly maildirs: readonly string[],
    /** how long the probe waits to connect and for the banner */
    private readonly probeTimeoutMs = 10_000,
  ) {
    this.name = `${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
    const first = mailboxes[0] ?? "";
    this.domain = first.slice(first.lastIndexOf("@") + 1);
  }

  get readsMailboxes(): boolean {
    return this.maildirs.length > 0;
  }

  /**
   * Checks the server answers with a 220 banner; it is the user's to start. Any other answer
   * (refused, silent, reset, garbage, a code outside 2xx-5xx, a 4xx/5xx greeting) is one
   * TargetProbeError naming host:port and the reason, before any fault or flood starts.
   */
  async start(): Promise<void> {
    let s: SmtpSession;
    try {
      s = await SmtpSession.connect({ host: this.endpoint.host, port: this.endpoint.port, timeoutMs: this.probeTimeoutMs, transcript: null });
    } catch (err) {
      throw this.probeError(err);
    }
    let ok = false;
    try {
      const banner = await s.readReply(this.probeTimeoutMs, "banner");
      if (banner.code !== 220) throw new TargetProbeError(`startup probe failed: ${this.name}: not ready for mail: it greeted with ${banner.code} ${banner.text}`);
      ok = true;
    } catch (err) {
      throw this.probeError(err);
    } finally {
      // QUIT only a server that behaved; a broken one is just closed.
      if (ok) await s.quit();
      else s.close();
    }
  }

  private probeError(err: unknown): Error {
    if (err instanceof TargetProbeError) return err;
    if (err instanceof SmtpError) {
      // One shape for every reason: "startup probe failed: HOST:PORT: why" (the wire layer's
      // messages name the peer for some errors and not for others).
      const why = err instanceof SmtpConnectError ? `cannot connect: ${err.code}` : err.message.replace(`${this.name}: `, "");
      return new TargetProbeError(`startup probe failed: ${this.name}: ${why}`);
    }
    return err as Error;
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
