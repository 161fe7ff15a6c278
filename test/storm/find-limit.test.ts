import { test } from "node:test";
import assert from "node:assert/strict";
import { validateMix } from "../../storm/plan.js";
import { findLimit } from "../../storm/find-limit.js";
import type { FindLimitOptions } from "../../storm/find-limit.js";
import { findLimitText } from "../../storm/report.js";
import { startFixture } from "./fixture-server.js";

const BASIC = validateMix({ weights: { basic: 1 }, size: { min: 100, max: 300 } });

function options(port: number): FindLimitOptions {
  return {
    target: { host: "127.0.0.1", port, rcpt: "u@test.example", timeoutMs: 3000 },
    mix: BASIC,
    seed: 1,
    model: "closed",
    start: 2,
    factor: 2,
    maxLevel: 32,
    stepMs: 400,
    maxErrorRate: 0.05,
    maxP99Ms: 2000,
    recoveryTimeoutMs: 3000,
  };
}

test("find-limit: a server with room for 6 sessions breaks at 8 and sheds gracefully with 421; recovery is measured", async (t) => {
  const fx = await startFixture({ capacity: 6, shed: "421", dotDelayMs: 60 });
  t.after(() => fx.close());
  const r = await findLimit(options(fx.port));
  assert.deepEqual(
    r.steps.map((s) => s.level),
    [2, 4, 8],
  );
  assert.equal(r.breakingPoint, 8);
  assert.equal(r.lastGood, 4);
  assert.equal(r.shedding, "graceful");
  const broken = r.steps[2];
  assert.ok(broken !== undefined && broken.replies421 > 0 && broken.ungraceful === 0, JSON.stringify(broken));
  assert.ok(r.recoveryMs !== null && r.recoveryMs < 3000, `recovery ${r.recoveryMs}`);
  const text = findLimitText(r, "fixture");
  assert.match(text, /breaking point: 8 sessions \(last good: 4\)/);
  assert.match(text, /load shedding: gracefully/);
});

test("find-limit: resets at the breaking point are reported as ungraceful shedding", async (t) => {
  const fx = await startFixture({ capacity: 3, shed: "reset", dotDelayMs: 60 });
  t.after(() => fx.close());
  const r = await findLimit(options(fx.port));
  assert.equal(r.breakingPoint, 4);
  assert.equal(r.shedding, "ungraceful");
  assert.ok((r.steps.at(-1)?.outcomes.reset ?? 0) + (r.steps.at(-1)?.outcomes.closed ?? 0) > 0);
});

test("find-limit: a server that never degrades within the bound gives no breaking point", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const r = await findLimit({ ...options(fx.port), maxLevel: 6, stepMs: 200 });
  assert.deepEqual(
    r.steps.map((s) => s.level),
    [2, 4, 6],
  );
  assert.equal(r.breakingPoint, null);
  assert.equal(r.recoveryMs, null);
});

test("find-limit in the open model steps the arrival rate", async (t) => {
  const fx = await startFixture({ capacity: 3, shed: "421", dotDelayMs: 100 });
  t.after(() => fx.close());
  const r = await findLimit({ ...options(fx.port), model: "open", start: 10, maxLevel: 320, stepMs: 500 });
  assert.equal(r.model, "open");
  assert.ok(r.breakingPoint !== null && r.breakingPoint >= 20 && r.breakingPoint <= 160, `broke at ${r.breakingPoint}/s`);
  assert.equal(r.shedding, "graceful");
  assert.match(findLimitText(r, "fixture"), /breaking point: \d+ arrivals\/s/);
});
