// A storm mix as traffic for someone else's loop (the monkey's flood, composed by bin/): each
// session a plan drawn from the mix and seed, run by its kind with the caller's observer and mail.
import type { Traffic } from "../smtp/index.js";
import { KINDS, kindUnit } from "./kinds/index.js";
import { PlanStream } from "./plan.js";
import type { Mix } from "./plan.js";
import { planClient } from "./endpoint.js";

export function mixTraffic(mix: Mix, seed: number): Traffic {
  const used = KINDS.filter((k) => (mix.weights[k.name] ?? 0) > 0);
  const plans = new PlanStream(mix, seed);
  return {
    describe: `storm mix: ${used.map((k) => `${k.name} ${mix.weights[k.name]}`).join(", ")}`,
    next() {
      const plan = plans.next();
      const unit = kindUnit(plan.kind);
      return {
        kind: plan.kind,
        run: (ctx) => {
          const target = { host: ctx.client.host, port: ctx.client.port, rcpt: "", timeoutMs: ctx.client.timeoutMs, ...ctx.endpoints };
          return unit.run({ plan, target, client: planClient(plan, target, ctx.client), mail: ctx.mail });
        },
      };
    },
  };
}
