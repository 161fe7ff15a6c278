// net.*: the network between the clients and the server, through an SMTP-aware proxy in front of
// the target (split at CRLF.CRLF, stall before the final dot, reset after the dot before the
// 250). It needs nothing of the server, so it also stands in front of one the toolkit does not run.
import type { Injector } from "../../injector.js";
import { NET_POINTS, SmtpProxy } from "../proxy.js";
import type { FaultLayerUnit, LayerInstance, PointKind, StartContext } from "../unit.js";

const NEEDS: Readonly<Record<string, PointKind["needs"]>> = { "net.stall": ["duration"], "net.throttle": ["bytesPerSec"] };
/** Sessions our own proxy cut or slowed: their resets and hangs are ours, not the server's. */
const EXCUSES: Readonly<Record<string, PointKind["excuses"]>> = {
  "net.reset": ["reset-without-reply", "close-without-reply"],
  "net.stall": ["hang"],
  "net.latency": ["hang"],
  "net.throttle": ["hang"],
};

export const netLayer: FaultLayerUnit = {
  name: "net",
  summary: "the network between clients and the server: latency, throttling, a split or stalled final dot, a reset before the 250 (SMTP-aware proxy)",
  kinds: NET_POINTS.map((p) => ({ family: "net", patterns: [p], match: new RegExp(`^${p.replace(".", "\\.")}$`), actions: [p.slice(4)], namedAction: true, needs: NEEDS[p], excuses: EXCUSES[p] })),
  // the proxy knows the client's own port
  charge: "client",
  unmanaged: true,
  // the flood goes through the proxy only when a plan needs it
  attach: (ctx) => (ctx.planned || ctx.serving ? new NetLayer(ctx.injector, ctx.ports.net) : null),
};

class NetLayer implements LayerInstance {
  private proxy: SmtpProxy | null = null;

  constructor(
    private readonly injector: Injector,
    private readonly port: number | undefined,
  ) {}

  points(): string[] {
    return [...NET_POINTS];
  }

  async start(ctx: StartContext): Promise<{ host: string; port: number } | void> {
    const proxy = new SmtpProxy({ upstream: ctx.endpoint, injector: this.injector, ...(this.port !== undefined ? { port: this.port } : {}) });
    await proxy.start();
    this.proxy = proxy;
    return proxy.address() ?? undefined;
  }

  describe(): string | null {
    const a = this.proxy?.address() ?? null;
    return a === null ? null : `fault proxy on ${a.host}:${a.port} (net.*)`;
  }

  upstreamPortOf(clientPort: number): number | undefined {
    return this.proxy === null ? clientPort : this.proxy.upstreamPortOf(clientPort);
  }

  /** The drain and the reconcile talk to the target directly. */
  async heal(): Promise<void> {
    await this.stop();
  }

  async stop(): Promise<void> {
    const p = this.proxy;
    this.proxy = null;
    await p?.stop();
  }
}
