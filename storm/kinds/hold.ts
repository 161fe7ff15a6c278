// An established session left idle after EHLO, then QUIT: what a 10k-concurrency run holds open.
import { assertOpen } from "../../smtp/index.js";
import { defineKind, plainPlan } from "./kind.js";
import type { Range } from "./kind.js";
import { TIME_UNITS, integer, range } from "./sections.js";
import { runWire, smaller } from "./wire.js";

export default defineKind<Range>({
  name: "hold",
  summary: "idle after EHLO for a while (mix `hold`), then QUIT; no mail",
  basicPlus: true,
  section: {
    key: "hold",
    default: { min: 1000, max: 5000 },
    parse(raw) {
      return range(raw, this.default, TIME_UNITS, "hold");
    },
    draw: (r) => ({ holdMs: integer(r) }),
  },
  plan: (common, own) => Object.assign(plainPlan(common), { transactions: 0, holdMs: own.holdMs as number }),
  run: (ctx) =>
    runWire(ctx, {
      transactions: 0,
      // Not async: a suspended async frame costs more than this closure, thousands held at once.
      // (The storm's timer wheel never rejects a sleep.)
      afterGreeting: (c) => {
        ctx.holding?.(true);
        return c.hold(ctx.plan.holdMs).then(() => {
          ctx.holding?.(false);
          assertOpen(c, "end of hold");
        });
      },
    }),
  script: (plan, w) => w.session(plan, { transactions: 0, afterGreeting: () => w.sleep(plan.holdMs) }),
  simpler: (p) => smaller(p.holdMs, 0).map((h) => ({ ...p, holdMs: h })),
});
