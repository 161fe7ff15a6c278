// The last message is sent whole with its final dot, then the connection is reset before the
// reply: the server may deliver it, once.
import { defineKind, plainPlan } from "./kind.js";
import { runWire } from "./wire.js";

export default defineKind({
  name: "abort-after-dot",
  summary: "the last message sent whole, then a reset before the reply (at most one delivery)",
  plan: plainPlan,
  run: (ctx) => runWire(ctx, { abortLast: "after-dot" }),
  script: (plan, w) => w.session(plan, { abortLast: "after-dot" }),
});
