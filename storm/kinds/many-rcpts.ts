// Many recipients per transaction (20-100 by default), pipelined when offered; a 452 "too many
// recipients" for some is fine when others were taken.
import { defineKind, plainPlan } from "./kind.js";
import type { Range } from "./kind.js";
import { integer, rangeSection } from "./sections.js";
import { runWire } from "./wire.js";

export default defineKind<Range>({
  name: "many-rcpts",
  summary: "many recipients per transaction (mix `manyRcpts`), pipelined when offered",
  basicPlus: true,
  section: rangeSection("manyRcpts", { min: 20, max: 100 }, 1, (r) => ({ rcpts: integer(r) })),
  plan: (common, own) => Object.assign(plainPlan(common), { rcpts: own.rcpts as number }),
  run: (ctx) => runWire(ctx, { pipelining: true, partialRcpts: true }),
  script: (plan, w) => w.session(plan),
});
