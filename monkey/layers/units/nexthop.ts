// nexthop.*: the server the target relays to defers, greylists, aborts, drops, loses its 250 or
// answers late (FlakyNextHop). It must run before the target is created, whose configuration
// relays the hop's domain to it. Its faults hit relaying after the client's session: charged to
// no session; the ledger (what arrived at the hop) and the hop's own counts judge them.
import type { Injector } from "../../injector.js";
import { FlakyNextHop, NEXTHOP_POINTS } from "../nexthop.js";
import type { NextHopStats } from "../nexthop.js";
import type { FaultLayerUnit, LayerInstance, LayerReport, TargetNeeds } from "../unit.js";

export const NEXTHOP_DOMAIN = "relay.test.example";

/** What the next hop says of itself in a monkey report (`layers.nexthop`). duplicates: ids it got
 * more than once beyond the resends its lost 250s called for. */
export interface NextHopDetails {
  duplicates: number;
  resentAfterLost250: number;
  stats: NextHopStats;
}

/** The next hop's counts in a monkey report; null when no nexthop.* point ran. */
export function nextHopOf(report: { layers: Readonly<Record<string, Record<string, unknown>>> }): NextHopDetails | null {
  return (report.layers.nexthop as NextHopDetails | undefined) ?? null;
}

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
    const details: NextHopDetails = { duplicates: this.hop.duplicates().length, resentAfterLost250: this.hop.resentAfterLost250(), stats: { ...this.hop.stats } };
    return { details: { ...details }, lines: [`next hop: ${JSON.stringify(details.stats)}, duplicate arrivals ${details.duplicates}, resent after a lost 250 ${details.resentAfterLost250} (expected)`] };
  }
}
