// One message per transaction, one command at a time: the plainest session, what shrinking ends at.
import { defineKind, plainPlan } from "./kind.js";
import { runWire } from "./wire.js";

export default defineKind({
  name: "basic",
  summary: "EHLO, MAIL, RCPT..., DATA, message, QUIT; one command at a time",
  plan: plainPlan,
  run: (ctx) => runWire(ctx),
  script: (plan, w) => w.session(plan),
});
