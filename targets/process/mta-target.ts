// What the real MTAs the toolkit configures share beyond running a daemon: the fault hooks
// (roles under libfiu, lookups routed to the monkey's router), a relay of one domain to a next
// hop, and a fault description assembled from what each MTA says about itself.
import { join } from "node:path";
import { DaemonTarget } from "./daemon-target.js";
import type { DaemonTargetOptions } from "./daemon-target.js";
import type { DescribesFaults, FaultDescription, FaultHookOptions } from "../fault-hooks.js";
import type { RelayTo } from "./relay.js";
import { ShimControl, shimEnv, shimInstalled, type ShimRole } from "./syscall-shim.js";

export interface MtaTargetOptions extends DaemonTargetOptions, FaultHookOptions {
  /** relays mail for relay.domain (only) to that loopback next hop, plain SMTP, no lookups */
  relay?: RelayTo;
}

const shimControlPath = (dir: string): string => join(dir, "syscall-shim.ctl");

export abstract class MtaTarget<O extends MtaTargetOptions> extends DaemonTarget implements DescribesFaults {
  /** roles the monkey may pause or kill */
  protected abstract readonly faultRoles: readonly string[];
  /** the role stopped to delay queue.* calls (a stalled disk); null when no role owns the queue alone */
  protected abstract readonly stallRole: string | null;

  constructor(protected readonly o: O) {
    super(o);
  }

  /** How libfiu commands reach the roles started under it; null when none is. */
  protected abstract libfiu(): FaultDescription["libfiu"];

  /** The roles besides the master the syscall shim tells apart, by the command line at exec. */
  protected abstract shimRoles(): ShimRole[];

  private shim: ShimControl | null = null;

  /** asked for, and built (npm run setup:mtas): without it, no sys.* points are offered */
  private get shimOn(): boolean {
    return (this.o.syscalls?.length ?? 0) > 0 && shimInstalled();
  }

  describeFaults(): FaultDescription {
    const syscalls = this.shimOn ? { roles: [this.masterRole, ...this.shimRoles().map((r) => r.name)], control: () => this.shim } : null;
    return { roles: this.faultRoles, stallRole: this.stallRole, libfiu: this.libfiu(), lookupsRouted: this.o.lookups !== undefined, syscalls };
  }

  /** A fresh shim control file for this start (from prepare()); the MTA finds it by shimEnv(). */
  protected async prepareShim(dir: string): Promise<void> {
    if (!this.shimOn) return;
    this.shim = await ShimControl.create(shimControlPath(dir), this.masterRole, this.shimRoles());
  }

  /** What the master process starts with to load the shim (nothing when it is off). */
  protected shimEnv(dir: string): Record<string, string> {
    return this.shimOn ? shimEnv(shimControlPath(dir)) : {};
  }

  override async stop(): Promise<void> {
    await super.stop();
    // the router was started by this target's start (serve); a restart keeps it
    await this.o.lookups?.stop();
  }
}
