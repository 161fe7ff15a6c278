// In-process fault injection for MTAs written for Node: wrap() turns the shared Injector into
// the FaultPoints hook such an MTA awaits before each risky operation (the embedded target's
// queue, lookup, allocation, delivery and relay steps). A fired "error" becomes the errno the
// real system call would have returned; "delay" waits first, then lets the operation proceed.
import { errnoName } from "../plan.js";
import type { SmtpPhase } from "../plan.js";
import type { Injector } from "../injector.js";
import type { FaultSurface } from "../surface.js";
import { FAULT_POINTS, InjectedFault } from "../../targets/embedded/fault-points.js";
import type { FaultContext, FaultPointName, FaultPoints } from "../../targets/embedded/fault-points.js";
import { sleep } from "./layer.js";

type Errno = InjectedFault["errno"];

/** The SMTP phase a hook call belongs to; background work (queue runs, delivery) has none. */
const PHASE: Record<FaultContext["phase"], SmtpPhase | undefined> = {
  MAIL: "mail",
  RCPT: "rcpt",
  // the embedded MTA queues after the final dot, before its reply
  DATA: "dot",
  queue: undefined,
  delivery: undefined,
  relay: undefined,
};

function errnoOf(n: number | null): Errno {
  const name = n === null ? "EIO" : errnoName(n);
  return name === "ENOSPC" || name === "ENOMEM" || name === "ETIMEDOUT" ? name : "EIO";
}

export function wrap(injector: Injector): FaultPoints {
  return {
    async check(point: FaultPointName, ctx: FaultContext): Promise<void> {
      const phase = PHASE[ctx.phase];
      // Background work (queue runs, delivery, relay) serves no client session: conn 0.
      const conn = phase === undefined ? 0 : ctx.clientPort;
      const d = injector.decide(point, { ...(phase !== undefined ? { phase } : {}), ...(conn !== undefined ? { conn } : {}) });
      if (d === null) return;
      if (d.delayMs > 0) await sleep(d.delayMs);
      // A hook can only let the operation go on or fail it: every failing action of the plan
      // (error, tempfail, timeout, exit...) is a failure of the operation here.
      if (d.action !== "delay") throw new InjectedFault(point, d.action === "timeout" ? "ETIMEDOUT" : errnoOf(d.errno));
    },
  };
}

/** The embedded target (in-process) as a fault surface: every hook asks the injector. */
export class InProcessSurface implements FaultSurface {
  constructor(private readonly target: { setFaults(f: FaultPoints | null): void }) {}

  points(): string[] {
    return [...FAULT_POINTS];
  }

  async apply(injector: Injector): Promise<void> {
    this.target.setFaults(wrap(injector));
  }

  async clear(): Promise<void> {
    this.target.setFaults(null);
  }
}
