// A NOOP after EHLO before the mail, as connection-caching clients probe a session before reusing it.
import { defineKind, plainPlan } from "./kind.js";
import { runWire } from "./wire.js";

export default defineKind({
  name: "noop",
  summary: "a NOOP after EHLO (a connection cache's liveness probe), then the transactions",
  basicPlus: true,
  plan: plainPlan,
  run: (ctx) => runWire(ctx, { afterGreeting: async (c) => void (await c.command("command", "NOOP", (r) => r.klass === "ok")) }),
  script: (plan, w) =>
    w.session(plan, {
      afterGreeting: () => {
        w.writeln("NOOP");
        w.expect("ok");
      },
    }),
});
