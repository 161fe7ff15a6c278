// queue.<op>, alloc, deliver.<op>, relay.<op>: a system call inside the target fails (or is
// slowed), with the errno a real disk or allocator would give. The target's fault surface fires
// them (monkey/targets.ts): the embedded MTA's hooks, which know the client connection; libfiu
// in a real MTA, which decides inside it, so its firings count by time (FaultSurface.decidedInside).
import type { FaultLayerUnit, PointKind } from "../unit.js";

// queue.fsync fails as fsync does, alloc as malloc (ENOMEM), queue.dir as the directory calls
const callOf = (point: string): string => point.slice(point.lastIndexOf(".") + 1);
const call = (family: string, patterns: string[], match: RegExp): PointKind => ({ family, patterns, match, actions: ["error", "delay"], errno: true, callOf });

export const syscallLayer: FaultLayerUnit = {
  name: "syscall",
  summary: "spool I/O, memory, mailbox writes and next-hop connects fail inside the target (embedded hooks; libfiu in real MTAs)",
  kinds: [
    call("queue", ["queue.<op>"], /^queue\.[a-z][a-z0-9_-]*$/),
    call("alloc", ["alloc"], /^alloc(\.[a-z][a-z0-9_-]*)?$/),
    // the MTA's own outbound steps: deliver.write (mailbox), relay.connect (next hop)
    call("delivery", ["deliver.<op>", "relay.<op>"], /^(deliver|relay)\.[a-z][a-z0-9_-]*$/),
  ],
  // background work (queue runs, deliveries) carries conn 0: charged to no session
  charge: "target",
};
