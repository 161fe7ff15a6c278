// Named places inside the embedded MTA where things can go wrong on a real system: queue I/O,
// table lookups, allocations, delivery. The monkey plugs a FaultPoints in here; by default
// nothing is injected. Each point is awaited right before the real operation it stands for.

export const FAULT_POINTS = [
  "queue.open",
  "queue.write",
  "queue.fsync",
  "queue.rename",
  "queue.read",
  "lookup.recipients",
  "lookup.domains",
  "alloc",
  "deliver.write",
  "relay.connect",
] as const;

export type FaultPointName = (typeof FAULT_POINTS)[number];

export interface FaultContext {
  /** SMTP phase or background activity the operation belongs to */
  phase: "MAIL" | "RCPT" | "DATA" | "queue" | "delivery" | "relay";
  queueId?: string;
  address?: string;
  /** source port of the client session the operation serves, so faults attribute to it */
  clientPort?: number;
}

export interface FaultPoints {
  /** Resolves to let the operation proceed (possibly after a delay); throws InjectedFault to fail it. */
  check(point: FaultPointName, ctx: FaultContext): Promise<void> | void;
}

/** A failure the monkey injected, standing in for the errno a real system call would return. */
export class InjectedFault extends Error {
  constructor(
    readonly point: FaultPointName,
    readonly errno: "EIO" | "ENOSPC" | "ENOMEM" | "ETIMEDOUT" = "EIO",
  ) {
    super(`injected ${errno} at ${point}`);
    this.name = "InjectedFault";
  }
}

export const NO_FAULTS: FaultPoints = { check: () => undefined };
