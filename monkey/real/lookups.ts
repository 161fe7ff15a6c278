// The lookup tables a real target consults (its mail domains and its recipients), served by a
// socketmap server in our process, so that the runner's one injector decides every lookup the
// MTA makes (points lookup.domains and lookup.recipients). Postfix queries it directly
// (socketmap:inet:...); OpenSMTPD through the table-monkey backend, which forwards each lookup.
import { SocketmapServer } from "../layers/socketmap.js";
import type { Injector } from "../injector.js";

export const LOOKUP_POINTS = ["lookup.domains", "lookup.recipients"] as const;

export class TargetLookups {
  private server: SocketmapServer | null = null;
  private injector: Injector | null = null;

  constructor(
    private readonly domains: readonly string[],
    /** recipient -> the value the MTA expects (a Maildir path, a user name) */
    private readonly recipients: Readonly<Record<string, string>>,
  ) {}

  /** Starts the server once; it keeps its port across target restarts. */
  async start(): Promise<{ host: string; port: number }> {
    if (this.server === null) {
      const server = new SocketmapServer({
        maps: { domains: Object.fromEntries(this.domains.map((d) => [d, "OK"])), recipients: { ...this.recipients } },
        injector: this.injector,
      });
      await server.start();
      this.server = server;
    }
    return this.server.address() as { host: string; port: number };
  }

  /** Postfix table spec of one map. */
  spec(map: "domains" | "recipients"): string {
    if (this.server === null) throw new Error("lookups: not started");
    return this.server.spec(map);
  }

  address(): { host: string; port: number } | null {
    return this.server?.address() ?? null;
  }

  setInjector(injector: Injector | null): void {
    this.injector = injector;
    this.server?.setInjector(injector);
  }

  get requests(): number {
    return this.server?.requests ?? 0;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    await s?.stop();
  }
}
