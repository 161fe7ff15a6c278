// sys.<role>.<call>: a system call of one process role of a real MTA is delayed or fails, inside
// the MTA, in any of its threads (the seccomp supervisor, targets/shim/seccomp-supervisor.c). write,
// read and sendfile count on the MTA's own channels (pipes, unix sockets): the seed's MONKEY_PAUSE
// before an imsg write; the other calls on any file or socket. The target's fault surface fires them.
import type { FaultLayerUnit } from "../unit.js";

export const sysLayer: FaultLayerUnit = {
  name: "sys",
  summary: "a system call of one role of a real MTA is delayed or fails (write/read on its internal channels, fsync, rename, open, unlink, mkdir, connect, accept...), in any thread, through the seccomp supervisor",
  // a delay is what the seed injected, so it is the default; `monkey fail` fails the call
  kinds: [{ family: "sys", patterns: ["sys.<role>.<call>"], match: /^sys\.[a-z][a-z0-9 _-]*\.[a-z]+$/, actions: ["delay", "error"], errno: true, callOf: (p) => /\.([a-z]+)$/.exec(p)?.[1] ?? null, failAction: "error", callSites: true, roleOf: (p) => /^sys\.(.+)\.[a-z]+$/.exec(p)?.[1] ?? null }],
  // decided inside the MTA, for no session: it counts for every session it overlapped
  charge: "target",
  unavailable: "sys.* points need a real MTA the toolkit starts under the seccomp supervisor (built by 'npm run setup:mtas'), with the point planned or declared (--may-fire)",
};
