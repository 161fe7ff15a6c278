// Every transaction pipelined (RFC 2920): the envelope in one segment, each message written
// with the next envelope or with the QUIT after the last one.
import { defineKind, plainPlan } from "./kind.js";
import { runWire } from "./wire.js";

export default defineKind({
  name: "pipelined",
  summary: "the envelope as one PIPELINING segment, each message sent with the next envelope or QUIT",
  basicPlus: true,
  plan: plainPlan,
  run: (ctx) => runWire(ctx, { pipelining: true }),
  script: (plan, w) => w.session(plan, { pipelined: true, chained: true }),
});
