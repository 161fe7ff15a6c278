// Every command line and the head of each message dribbled a few bytes at a time with pauses.
import { defineKind, plainPlan } from "./kind.js";
import type { Range } from "./kind.js";
import { MixError, SIZE_UNITS, TIME_UNITS, integer, range } from "./sections.js";
import { runWire, smaller } from "./wire.js";

interface Slowloris {
  pauseMs: Range;
  chunk: Range;
}

export default defineKind<Slowloris>({
  name: "slowloris",
  summary: "command lines and message heads dribbled in small chunks with pauses",
  basicPlus: true,
  section: {
    key: "slowloris",
    default: { pauseMs: { min: 10, max: 100 }, chunk: { min: 2, max: 16 } },
    parse(raw) {
      const s = (raw ?? {}) as { pauseMs?: unknown; chunk?: unknown };
      const out = { pauseMs: range(s.pauseMs, this.default.pauseMs, TIME_UNITS, "slowloris.pauseMs"), chunk: range(s.chunk, this.default.chunk, SIZE_UNITS, "slowloris.chunk") };
      if (out.chunk.min < 1) throw new MixError("mix: slowloris.chunk needs 1 <= min <= max");
      return out;
    },
    draw: (s) => ({ pauseMs: integer(s.pauseMs), chunk: integer(s.chunk) }),
  },
  plan: (common, own) => Object.assign(plainPlan(common), { pauseMs: own.pauseMs as number, chunk: own.chunk as number }),
  run: (ctx) => runWire(Object.assign({}, ctx, { client: Object.assign({}, ctx.client, { dribble: { chunk: ctx.plan.chunk, pauseMs: ctx.plan.pauseMs } }) })),
  script: (plan, w) => w.session(plan, { dribble: true }),
  simpler: (p) => [...smaller(p.pauseMs, 0).map((ms) => ({ ...p, pauseMs: ms })), ...(p.chunk < 64 ? [{ ...p, chunk: Math.min(64, p.chunk * 2) }] : [])],
});
