// Large messages (1-20 MB by default), streamed in chunks with backpressure.
import { defineKind, plainPlan } from "./kind.js";
import type { Range } from "./kind.js";
import { logInt, rangeSection } from "./sections.js";
import { runWire } from "./wire.js";

export default defineKind<Range>({
  name: "large",
  summary: "a large message (mix `large`), streamed with backpressure",
  basicPlus: true,
  section: rangeSection("large", { min: 1024 * 1024, max: 20 * 1024 * 1024 }, 0, (r) => ({ size: logInt(r) })),
  plan: (common, own) => Object.assign(plainPlan(common), { size: own.size as number }),
  run: (ctx) => runWire(ctx, { streamed: true }),
  script: (plan, w) => w.session(plan, { sendMessage: true }),
});
