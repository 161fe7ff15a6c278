// The plans shown to users must be valid plans: the README's example and the shipped plans.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { parsePlanText } from "../../monkey/plan.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

test("the plan in monkey/README.md is valid", () => {
  const readme = readFileSync(join(ROOT, "monkey/README.md"), "utf8");
  const block = /```yaml\n([\s\S]*?)```/.exec(readme);
  assert.ok(block !== null, "README has a yaml block");
  const plan = parsePlanText(block[1] as string, "monkey/README.md");
  assert.equal(plan.seed, 42);
  assert.equal(plan.points.length, 9);
});

test("every shipped plan in monkey/plans is valid", () => {
  const files = readdirSync(join(ROOT, "monkey/plans")).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(files.length > 0);
  for (const f of files) {
    const plan = parsePlanText(readFileSync(join(ROOT, "monkey/plans", f), "utf8"), f);
    assert.ok(plan.points.length > 0, `${f} has points`);
  }
});
