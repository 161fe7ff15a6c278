// The last transaction is abandoned halfway through its message with a TCP reset: the server
// must not deliver it.
import { defineKind, plainPlan } from "./kind.js";
import { runWire } from "./wire.js";

export default defineKind({
  name: "abort-data",
  summary: "the last message cut halfway with a TCP reset (must not be delivered)",
  plan: plainPlan,
  run: (ctx) => runWire(ctx, { abortLast: "data" }),
  script: (plan, w) => w.session(plan, { abortLast: "data" }),
});
