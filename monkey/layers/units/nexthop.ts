// nexthop.*: the server the target relays to defers, greylists, aborts, drops, loses its 250 or
// answers late (FlakyNextHop). It must run before the target is created, whose configuration
// relays the hop's domain to it. Its faults hit relaying after the client's session: charged to
// no session; the ledger (what arrived at the hop) and the hop's own counts judge them.
import type { Injector } from "../../injector.js";
import { FlakyNextHop, NEXTHOP_POINTS } from "../nexthop.js";
import type { FaultLayerUnit, LayerInstance, LayerReport, TargetNeeds } from "../unit.js";

export const NEXTHOP_DOMAIN = "relay.test.example";

export const nexthopLayer: FaultLayerUnit = {
  name: "nexthop",
  summary: `the next hop the target relays ${NEXTHOP_DOMAIN} to defers, greylists, drops, loses its 250s or answers late`,
  kinds: NEXTHOP_POINTS.map((p) => ({ family: "nexthop", patterns: [p], match: new RegExp(`^${p.replace(".", "\\.")}$`), actions: [p.slice(8)], namedAction: true })),
  charge: "none",
  // only then is the target set up to relay, and the flood sends to the hop's domain
  attach: (ctx) => (ctx.planned || ctx.serving ? new NextHopLayer(ctx.injector) : null),
};

class NextHopLayer implements LayerInstance {
  private readonly hop: FlakyNextHop;

  constructor(injector: Injector) {
    this.hop = new FlakyNextHop({ injector });
  }

  points(): string[] {
    return this.hop.points();
  }

  async prepare(): Promise<TargetNeeds> {
    await this.hop.start();
    const a = this.hop.address() as { host: string; port: number };
    return { nextHop: { ...a, domain: NEXTHOP_DOMAIN, sink: this.hop }, mailboxes: [`user@${NEXTHOP_DOMAIN}`] };
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    await this.hop.stop();
  }

  describe(): string | null {
    const a = this.hop.address();
    return a === null ? null : `next hop on ${a.host}:${a.port} for mail to *@${NEXTHOP_DOMAIN} (nexthop.*)`;
  }

  deliveredIds(): Array<string | null> {
    const out: Array<string | null> = [];
    for (const [id, n] of this.hop.counted()) for (let i = 0; i < n; i++) out.push(id === "(none)" ? null : id);
    return out;
  }

  report(): LayerReport {
    const nextHop = { duplicates: this.hop.duplicates().length, resentAfterLost250: this.hop.resentAfterLost250(), stats: { ...this.hop.stats } };
    return { nextHop, lines: [`next hop: ${JSON.stringify(nextHop.stats)}, duplicate arrivals ${nextHop.duplicates}, resent after a lost 250 ${nextHop.resentAfterLost250} (expected)`] };
  }
}
