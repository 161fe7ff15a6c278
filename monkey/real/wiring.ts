// The fault wiring of a real MTA target, built from what the target describes
// (targets/fault-hooks.ts): its fault surface, made on first use. smtpscript's `monkey`
// statements go through the monkey's one interpreter (controller.ts) on top of it.
import type { DescribesFaults } from "../../targets/fault-hooks.js";
import type { Target } from "../../targets/target.js";
import { RealFaultSurface } from "./surface.js";
import { fiuChannel } from "./channels.js";
import { ShimChannel } from "./syscalls.js";
import type { TargetLookups } from "./lookups.js";

export class RealFaults {
  private surfaceOnce: RealFaultSurface | null = null;

  constructor(
    private readonly target: Target & DescribesFaults,
    /** the router the target was created with, when its lookups are decided here */
    private readonly lookups: TargetLookups | null,
  ) {}

  /** Fault points for the monkey: libfiu (when started with fiu), lookups, pause/kill of roles. */
  surface(): RealFaultSurface {
    if (this.surfaceOnce !== null) return this.surfaceOnce;
    const d = this.target.describeFaults();
    const fiu = d.libfiu === null ? null : fiuChannel(this.target, d.libfiu, d.libfiu.stackScope, d.libfiu.points, d.libfiu.logged);
    const shim = d.syscalls === null ? null : new ShimChannel(d.syscalls.roles, d.syscalls.control);
    return (this.surfaceOnce = new RealFaultSurface({ target: this.target, fiu, shim, lookups: d.lookupsRouted ? this.lookups : null, roles: d.roles, stallRole: d.stallRole }));
  }

  /** The target is going away (see RealFaultSurface.close). */
  async close(): Promise<void> {
    await this.surfaceOnce?.close();
  }
}
