// The common shape of the layers' machinery (the proxy, the next hop, the lookup servers, the
// process timers): started, stopped, asked where it listens. The runner and the control API reach
// them through the layers' units (unit.ts). They never decide on their own: they ask the Injector.

export interface FaultLayer {
  /** e.g. "proxy", "tcp-table:recipients", "process" */
  readonly name: string;
  /** the fault points this layer can fire (the plan may name only some of them) */
  points(): string[];
  start(): Promise<void>;
  /** stops injecting and releases everything (sockets, paused processes); idempotent */
  stop(): Promise<void>;
  /** where clients or the MTA should connect, when the layer listens */
  address?(): { host: string; port: number } | null;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export { isLoopback } from "../../common/loopback.js";
