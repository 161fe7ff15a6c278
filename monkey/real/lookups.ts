// The lookup tables a real target consults (its mail domains and its recipients), served by a
// socketmap server in our process, so that the runner's one injector decides every lookup the
// MTA makes (points lookup.domains and lookup.recipients). The target asks it through the
// LookupRouter hook: Postfix queries it directly (socketmap:inet:...), OpenSMTPD through the
// table-monkey backend this router writes for it, which forwards each lookup.
import type { LookupRouter, LookupTables } from "../../targets/fault-hooks.js";
import { SocketmapServer } from "../layers/socketmap.js";
import { writeTableMonkeyExecutable } from "../layers/table-proc.js";
import type { Injector } from "../injector.js";

export const LOOKUP_POINTS = ["lookup.domains", "lookup.recipients"] as const;

export class TargetLookups implements LookupRouter {
  private server: SocketmapServer | null = null;
  private injector: Injector | null = null;

  /** Starts the server once; it keeps its port across target restarts. */
  async serve(tables: LookupTables): Promise<{ host: string; port: number }> {
    if (this.server === null) {
      const server = new SocketmapServer({
        maps: { domains: Object.fromEntries(tables.domains.map((d) => [d, "OK"])), recipients: { ...tables.recipients } },
        injector: this.injector,
      });
      await server.start();
      this.server = server;
    }
    return this.server.address() as { host: string; port: number };
  }

  writeTableProc(path: string): Promise<void> {
    return writeTableMonkeyExecutable(path);
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
