// What the real MTAs the toolkit configures share beyond running a daemon: the fault hooks
// (roles under libfiu, lookups routed to the monkey's router), a relay of one domain to a next
// hop, and a fault description assembled from what each MTA says about itself.
import { join } from "node:path";
import { DaemonTarget } from "./daemon-target.js";
import type { DaemonTargetOptions } from "./daemon-target.js";
import type { DescribesFaults, FaultDescription, FaultHookOptions } from "../fault-hooks.js";
import type { RelayTo } from "./relay.js";
import { ShimControl, SHIM_CALLS, seccompCommand, seccompInstalled, type ShimCall, type ShimRole } from "./syscall-shim.js";

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

  /** The roles besides the master the syscall mechanism tells apart, by the live process title (then the executable). */
  protected abstract shimRoles(): ShimRole[];

  private shim: ShimControl | null = null;

  /** the calls asked for that the mechanism traps (built by npm run setup:mtas): without them, no sys.* points are offered */
  private get trapped(): ShimCall[] {
    if (!seccompInstalled()) return [];
    return SHIM_CALLS.filter((c) => this.o.syscalls?.includes(c) === true);
  }

  private get shimOn(): boolean {
    return this.trapped.length > 0;
  }

  describeFaults(): FaultDescription {
    const syscalls = this.shimOn ? { roles: [this.masterRole, ...this.shimRoles().map((r) => r.name)], control: () => this.shim } : null;
    return { roles: this.faultRoles, stallRole: this.stallRole, libfiu: this.libfiu(), lookupsRouted: this.o.lookups !== undefined, syscalls };
  }

  /** A fresh shim control file for this start (from prepare()); the launcher maps it (launchPrefix). */
  protected async prepareShim(dir: string): Promise<void> {
    if (!this.shimOn) return;
    this.shim = await ShimControl.create(shimControlPath(dir), this.masterRole, this.shimRoles());
  }

  /**
   * The syscall mechanism's launcher before the start command: it traps the asked-for calls in
   * every thread of every process the command becomes, and execs it in place (nothing when off).
   */
  protected override launchPrefix(dir: string): string[] {
    return this.shimOn ? seccompCommand(shimControlPath(dir), this.trapped) : [];
  }

  override async stop(): Promise<void> {
    await super.stop();
    // the router was started by this target's start (serve); a restart keeps it
    await this.o.lookups?.stop();
  }
}
