// Shared by the real-MTA fault tests: one transaction whose outcome is recorded, never thrown; a clean monkey run checked the same way for every MTA.
import assert from "node:assert/strict";
import { Injector } from "../../monkey/injector.js";
import { runMonkey, type MonkeyRunOptions } from "../../monkey/run.js";
import { monkeyText } from "../../monkey/report.js";
import { validatePlan } from "../../monkey/plan.js";
import { sendOne } from "../targets/helpers.js";
import { createFaultableTarget } from "../../monkey/targets.js";
import { RealFaultSurface } from "../../monkey/real/surface.js";
import type { Target } from "../../targets/target.js";

export interface Outcome {
  id: string;
  /** the last reply's code, or null when the session ended without one */
  code: number | null;
  /** the phase of the last reply (rcpt, data, dot...) or the error */
  last: string;
  accepted: boolean;
}

export async function attempt(port: number, rcpt: string, size = 200): Promise<Outcome> {
  try {
    const { id, replies } = await sendOne("127.0.0.1", port, rcpt, { size });
    const r = replies[replies.length - 1];
    const steps = ["banner", "ehlo", "mail", "rcpt", "data", "dot"];
    return { id, code: r?.code ?? null, last: `${steps[replies.length - 1] ?? "?"}: ${r?.code ?? ""} ${r?.text ?? ""}`, accepted: replies.length === 6 && r?.code === 250 };
  } catch (err) {
    return { id: "", code: null, last: (err as Error).message, accepted: false };
  }
}

export function injectorFor(points: Record<string, unknown>, seed = 1): Injector {
  return new Injector({ plan: validatePlan({ points }), seed });
}

/** A real target with the monkey's fault wiring, as the monkey builds it; stop() ends both. */
export function wiredTarget<T extends Target>(name: string, options: Record<string, unknown>): { target: T; surface: RealFaultSurface; stop: () => Promise<void> } {
  const f = createFaultableTarget(name, options);
  const surface = f.surface();
  if (!(surface instanceof RealFaultSurface)) throw new Error(`${name} has no real fault surface`);
  return {
    target: f.target as T,
    surface,
    stop: async () => {
      await f.close();
      await f.target.stop();
    },
  };
}

/**
 * A monkey run with no fault against a real MTA: no finding, more than 20 messages accepted, and
 * every one delivered exactly once across the restart.
 */
export async function assertCleanRun(base: Omit<MonkeyRunOptions, "plan">): Promise<void> {
  const r = await runMonkey({ ...base, plan: validatePlan({ points: {} }) });
  assert.equal(r.verdict, "pass", monkeyText(r));
  assert.ok(r.ledger !== null && r.ledgerAfterRestart !== null, monkeyText(r));
  assert.ok(r.ledgerAfterRestart.accepted > 20, `accepted ${r.ledgerAfterRestart.accepted}`);
  assert.equal(r.ledgerAfterRestart.deliveredDistinct, r.ledgerAfterRestart.accepted);
  assert.equal(r.ledgerAfterRestart.duplicates, 0);
}
