// The issues a rejected fault plan lists, as "path: message" lines (for plan and registry tests).
import assert from "node:assert/strict";
import { PlanError, validatePlan } from "../../monkey/plan.js";

export function issuesOf(doc: unknown): string[] {
  try {
    validatePlan(doc);
  } catch (err) {
    assert.ok(err instanceof PlanError);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail("expected the plan to be rejected");
}
