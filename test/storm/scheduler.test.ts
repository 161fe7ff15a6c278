import { test } from "node:test";
import assert from "node:assert/strict";
import { validateMix } from "../../storm/plan.js";
import { runStorm } from "../../storm/scheduler.js";
import { parseStages, Profile, StagesError } from "../../storm/profile.js";
import { startFixture } from "./fixture-server.js";
import { registerKind } from "../../storm/kinds/index.js";
import { defineKind, plainPlan } from "../../storm/kinds/kind.js";

const BASIC = validateMix({ weights: { basic: 1 }, size: { min: 100, max: 300 } });

test("stages parse and integrate: levels ramp linearly from 0, arrivals follow the area under the rate", () => {
  const stages = parseStages("10s:100, 30s:1000,10s:0");
  assert.deepEqual(stages, [
    { durationMs: 10_000, target: 100 },
    { durationMs: 30_000, target: 1000 },
    { durationMs: 10_000, target: 0 },
  ]);
  const p = new Profile(stages);
  assert.equal(p.totalMs, 50_000);
  assert.equal(p.peak, 1000);
  assert.equal(p.level(5000), 50);
  assert.equal(p.level(25_000), 550);
  assert.equal(p.level(60_000), 0);
  // 0->100 over 10 s: 500 arrivals; then 100->1000 over 30 s: 16,500; then 1000->0 over 10 s: 5,000
  assert.equal(p.cumulative(10_000), 500);
  assert.equal(p.cumulative(50_000), 22_000);
  assert.ok(Math.abs(p.arrivalTime(500) - 10_000) < 1);
  assert.equal(p.arrivalTime(22_001), Infinity);
  const flat = new Profile(null, 200);
  assert.equal(flat.arrivalTime(100), 500);
  assert.throws(() => parseStages("10s"), StagesError);
  assert.throws(() => parseStages("fast:10"), /DURATION:TARGET/);
});

test("open loop: arrivals follow the rate whatever the server does, bounded by the duration", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const r = await runStorm({ target: { host: "127.0.0.1", port: fx.port, rcpt: "u@test.example", timeoutMs: 5000 }, rate: 100, durationMs: 1000, mix: BASIC, seed: 1 });
  assert.equal(r.model, "open");
  // due at 0, 10, ..., 990 ms: exactly 100 arrivals, however late the timer ticks
  assert.equal(r.metrics.started, 100);
  assert.equal(r.metrics.count("ok"), r.metrics.sessions);
  assert.equal(r.metrics.dropped, 0);
});

test("open loop: arrivals over the in-flight cap are dropped and counted, never delayed", async (t) => {
  const fx = await startFixture({ dotDelayMs: 300 });
  t.after(() => fx.close());
  const r = await runStorm({ target: { host: "127.0.0.1", port: fx.port, rcpt: "u@test.example", timeoutMs: 5000 }, rate: 200, durationMs: 600, maxInFlight: 5, mix: BASIC, seed: 1 });
  assert.ok(r.metrics.maxConcurrency <= 5);
  assert.ok(r.metrics.dropped > 50, `dropped ${r.metrics.dropped}`);
  assert.equal(r.metrics.started + r.metrics.dropped, r.metrics.timeline.reduce((a, p) => a + p.started + p.dropped, 0));
});

test("open loop: latency counts from the scheduled start (a stalled generator shows up, not hidden)", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  // Stall this process's event loop for 300 ms in the middle of the run: arrivals due during
  // the stall start late, and that lateness must be in their latency.
  setTimeout(() => {
    const until = performance.now() + 300;
    while (performance.now() < until);
  }, 200);
  const r = await runStorm({ target: { host: "127.0.0.1", port: fx.port, rcpt: "u@test.example", timeoutMs: 5000 }, rate: 100, durationMs: 800, mix: BASIC, seed: 2 });
  const connect = r.metrics.phases.get("connect");
  const session = r.metrics.phases.get("session");
  assert.ok(connect !== undefined && connect.max >= 250_000, `connect max ${(connect?.max ?? 0) / 1000} ms`);
  assert.ok(session !== undefined && session.max >= 250_000);
  // and the arrivals were not thinned out by the stall: every one due in 800 ms was started
  assert.equal(r.metrics.started, 80);
});

test("closed loop with stages ramps the in-flight level up and down, always bounded", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const mix = validateMix({ weights: { hold: 1 }, hold: { min: 100, max: 100 } });
  const seen: number[] = [];
  const r = await runStorm({
    target: { host: "127.0.0.1", port: fx.port, rcpt: "u@test.example", timeoutMs: 5000 },
    stages: parseStages("400ms:20,400ms:20,400ms:0"),
    mix,
    seed: 3,
    onTick: (m) => seen.push(m.inFlight),
  });
  assert.equal(r.model, "closed");
  assert.ok(r.metrics.maxConcurrency <= 20 && r.metrics.maxConcurrency >= 15, `peak ${r.metrics.maxConcurrency}`);
  assert.ok(r.durationMs < 2500, `bounded: ${r.durationMs}`);
  assert.equal(r.metrics.inFlight, 0);
});

test("--max-messages stops starting sessions once enough messages were accepted", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const r = await runStorm({ target: { host: "127.0.0.1", port: fx.port, rcpt: "u@test.example", timeoutMs: 5000 }, concurrency: 4, durationMs: 20_000, maxMessages: 30, mix: BASIC, seed: 4 });
  assert.ok(r.metrics.accepted >= 30 && r.metrics.accepted < 30 + 4, `accepted ${r.metrics.accepted}`);
  assert.ok(r.durationMs < 10_000);
});

test("a per-session check (here: slower than 100 ms) marks the first failing session with its replayable origin", async (t) => {
  const fx = await startFixture({ dotDelayMs: 150 });
  t.after(() => fx.close());
  const r = await runStorm({ target: { host: "127.0.0.1", port: fx.port, rcpt: "u@test.example", timeoutMs: 5000 }, concurrency: 2, durationMs: 5000, maxSessions: 4, mix: BASIC, seed: 8, isFailure: (_o, ms) => ms > 100 });
  assert.equal(r.metrics.count("ok"), 4);
  assert.ok(r.failure !== null && r.failure.outcome === "ok" && r.failure.elapsedMs > 100);
  assert.equal(r.failure.origin.seed, 8);
  assert.match(r.failure.origin.path, /^[0-3]$/);
});

test("a closed loop whose sessions end without I/O still lets timers run: progress ticks and the duration ends it", async () => {
  // Sessions that fail at once (no local port left, no descriptor) end in microtasks; refilled
  // from there, they would chain forever and starve the event loop (seen: 40 s without progress).
  registerKind(
    defineKind({
      name: "instant-fail-test",
      summary: "ends at once, as a session without a local port does",
      plan: (common) => plainPlan(common),
      run: () => Promise.resolve({ outcome: "local" as const, accepted: 0 }),
      script: () => {},
    }),
  );
  const ticks: number[] = [];
  const t0 = performance.now();
  const r = await runStorm({
    target: { host: "127.0.0.1", port: 9, rcpt: "u@test.example", timeoutMs: 1000 },
    concurrency: 10,
    durationMs: 2500,
    mix: validateMix({ weights: { "instant-fail-test": 1 } }),
    seed: 1,
    onTick: (_m, elapsed) => ticks.push(elapsed),
  });
  const wall = performance.now() - t0;
  assert.ok(ticks.length >= 2, `progress ticked ${ticks.length} times in ${Math.round(wall)} ms`);
  assert.ok(wall < 4000, `the run took ${Math.round(wall)} ms for a 2.5 s duration`);
  assert.ok(r.metrics.sessions > 100, `${r.metrics.sessions} sessions ran`);
  assert.equal(r.metrics.count("local"), r.metrics.sessions);
});
