// Garbage and an overlong line after EHLO: the server must answer 5xx and keep going, or close
// after its 5xx (RFC 5321 7.8 lets it: "closed-after-refusal", not ungraceful).
import { defineKind, plainPlan } from "./kind.js";
import { runWire } from "./wire.js";

const GARBAGE = "\x01\x02 not smtp " + "x".repeat(2000);

export default defineKind({
  name: "garbage",
  summary: "control bytes and a 2 KB line after EHLO, then a normal transaction",
  plan: plainPlan,
  run: (ctx) => runWire(ctx, { afterGreeting: async (c) => void (await c.command("garbage", GARBAGE, () => true)) }),
  script: (plan, w) =>
    w.session(plan, {
      afterGreeting: () => {
        w.writeln(GARBAGE);
        w.expect("any");
      },
    }),
});
