// Several transactions on one connection with RSET between every two.
import { defineKind, plainPlan } from "./kind.js";
import type { Range } from "./kind.js";
import { integer, rangeSection } from "./sections.js";
import { runWire } from "./wire.js";

export default defineKind<Range>({
  name: "multi",
  summary: "several transactions on one connection, RSET between every two",
  basicPlus: true,
  section: rangeSection("multi", { min: 2, max: 4 }, 1, (r) => ({ transactions: integer(r) })),
  plan: (common, own) => Object.assign(plainPlan(common), { transactions: own.transactions as number }),
  run: (ctx) => runWire(ctx, { rsetBetween: true }),
  script: (plan, w) => w.session(plan, { rsetBetween: true }),
});
