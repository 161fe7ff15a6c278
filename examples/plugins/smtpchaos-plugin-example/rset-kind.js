// A storm session kind: an RSET after EHLO before the mail, as defensive clients do.
import { defineKind, plainPlan, runWire } from "smtpchaos";

export const rsetKind = defineKind({
  name: "rset",
  summary: "an RSET after EHLO, then the transactions (the plug-in example)",
  plan: plainPlan,
  run: (ctx) => runWire(ctx, { afterGreeting: async (c) => void (await c.command("command", "RSET", (r) => r.klass === "ok")) }),
  script: (plan, w) =>
    w.session(plan, {
      afterGreeting: () => {
        w.writeln("RSET");
        w.expect("ok");
      },
    }),
});
