// A flaky next hop: the SMTP server the MTA under test relays to, the toolkit's recording sink
// (targets/sink) with the monkey's injector deciding when it defers, greylists, answers 421 at
// the end of DATA, drops the connection, loses its 250 or answers late.
import { NEXTHOP_POINTS, RecordingSink, type SinkOptions, type SinkStats } from "../../targets/sink/recording-sink.js";
import type { FaultLayer } from "./layer.js";

export { NEXTHOP_POINTS };
export type NextHopStats = SinkStats;

export interface NextHopOptions extends Omit<SinkOptions, "faults"> {
  injector: SinkOptions["faults"];
}

export class FlakyNextHop extends RecordingSink implements FaultLayer {
  readonly name = "nexthop";

  constructor({ injector, ...rest }: NextHopOptions) {
    super({ ...rest, faults: injector });
  }

  points(): string[] {
    return [...NEXTHOP_POINTS];
  }
}
