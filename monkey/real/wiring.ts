// The fault wiring a real MTA target carries: its fault surface for the monkey and the
// smtpscript `monkey` statements on top of it, both made on first use.
import type { ScriptFaults } from "../../smtpscript/runner.js";
import { RealFaultSurface } from "./surface.js";
import type { FiuChannel, RealSurfaceTarget } from "./surface.js";
import { RealScriptFaults } from "./script-faults.js";

export interface RealFaultsOptions {
  target: RealSurfaceTarget;
  /** the libfiu channel, or null when the target runs nothing under libfiu (asked on first use) */
  fiu: () => FiuChannel | null;
  roles: readonly string[];
  /** role stopped for `monkey delay queue.* D`; null: not supported */
  stallRole: string | null;
}

export class RealFaults {
  private surfaceOnce: RealFaultSurface | null = null;
  private scriptOnce: RealScriptFaults | null = null;

  constructor(private readonly o: RealFaultsOptions) {}

  /** Fault points for the monkey: libfiu (when started with fiu), lookups (lookups: true), pause/kill of roles. */
  surface(): RealFaultSurface {
    return (this.surfaceOnce ??= new RealFaultSurface({ target: this.o.target, fiu: this.o.fiu(), roles: this.o.roles }));
  }

  /** smtpscript `monkey` statements, backed by the surface. */
  get script(): ScriptFaults {
    return (this.scriptOnce ??= new RealScriptFaults({ surface: this.surface(), target: this.o.target, stallRole: this.o.stallRole }));
  }

  /** The target is going away (see RealFaultSurface.close). */
  async close(): Promise<void> {
    await this.surfaceOnce?.close();
  }
}
