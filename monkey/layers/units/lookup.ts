// lookup.<table>: a table lookup of the target answers a temporary failure, nothing, garbage, late
// or never. The target's fault surface fires them: the embedded MTA's hook, or the lookup servers
// the monkey runs for a real MTA (Postfix socketmap/tcp_table, OpenSMTPD's table-monkey backend).
import type { FaultLayerUnit } from "../unit.js";

export const lookupLayer: FaultLayerUnit = {
  name: "lookup",
  summary: "table lookups (domains, recipients) fail, answer garbage or stall (embedded hook; the monkey's lookup servers for real MTAs)",
  kinds: [
    {
      family: "lookup",
      patterns: ["lookup.<table>"],
      match: /^lookup\.[A-Za-z0-9_-]+$/,
      actions: ["tempfail", "notfound", "permfail", "garbage", "timeout", "exit", "delay"],
      failAction: "tempfail",
    },
  ],
  charge: "target",
};
