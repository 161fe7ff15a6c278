// Parts of a storm add up to the run: shares split exactly, snapshots merge associatively and
// commutatively, percentiles of merged histograms stay within the histogram's stated error,
// and worker threads together run what one thread would.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Histogram, HISTOGRAM_RELATIVE_ERROR } from "../../storm/histogram.js";
import { Metrics, PHASES, OUTCOMES } from "../../storm/metrics.js";
import { mergeSnapshots, metricsFrom, snapshotOf } from "../../storm/snapshot.js";
import type { MetricsSnapshot } from "../../storm/snapshot.js";
import { partSeed, parseShard, segmentOptions, shareOf } from "../../storm/segment.js";
import { runStorm } from "../../storm/scheduler.js";
import { validateMix } from "../../storm/plan.js";
import { startNamedTarget } from "../../targets/registry.js";

test("shares of an integer split it exactly, parts differ by at most one", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 1, max: 64 }), (total, count) => {
      const shares = Array.from({ length: count }, (_, index) => shareOf(total, { index, count }));
      assert.equal(shares.reduce((a, b) => a + b, 0), total);
      assert.ok(Math.max(...shares) - Math.min(...shares) <= 1);
    }),
  );
});

test("segments: each part its share of sessions and bounds, and a seed of its own", () => {
  const o = { target: { host: "127.0.0.1", port: 25, rcpt: "a@b", timeoutMs: 1 }, mix: validateMix({}), seed: 7, concurrency: 10, maxSessions: 101, durationMs: 1000 };
  const parts = [0, 1, 2].map((index) => segmentOptions(o, { index, count: 3 }));
  assert.deepEqual(parts.map((p) => p.concurrency), [3, 3, 4]);
  assert.deepEqual(parts.map((p) => p.maxSessions), [33, 34, 34]);
  assert.equal(new Set(parts.map((p) => p.seed)).size, 3);
  assert.equal(segmentOptions(o, { index: 0, count: 1 }).seed, 7, "one part is the run itself");
  assert.equal(partSeed(7, { index: 1, count: 3 }), parts[1]?.seed, "derived seeds replay");
  assert.deepEqual(parseShard("2/5"), { index: 1, count: 5 });
  assert.throws(() => parseShard("0/5"), /I\/N with 1 <= I <= N/);
  assert.throws(() => parseShard("6/5"), /--shard/);
});

const snapshotArb: fc.Arbitrary<MetricsSnapshot> = fc
  .record({
    latencies: fc.array(fc.tuple(fc.constantFrom(...PHASES), fc.integer({ min: 0, max: 10_000_000 })), { maxLength: 40 }),
    outcomes: fc.array(fc.constantFrom(...OUTCOMES), { maxLength: 20 }),
    codes: fc.array(fc.constantFrom("mail 250", "rcpt 451", "dot 250"), { maxLength: 10 }),
    start: fc.integer({ min: 1_700_000_000, max: 1_700_000_010 }),
    ticks: fc.array(fc.nat(50), { maxLength: 5 }),
  })
  .map((r) => {
    const m = new Metrics();
    for (const [p, us] of r.latencies) m.phase(p, us / 1000);
    for (const o of r.outcomes) {
      m.sessionStarted();
      m.sessionEnded(o, o === "ok" ? 1 : 0);
    }
    for (const c of r.codes) m.codes.set(c, (m.codes.get(c) ?? 0) + 1);
    r.ticks.forEach((_, i) => m.sample(i));
    return snapshotOf(m, r.start * 1000);
  });

test("merging snapshots is associative and commutative", () => {
  fc.assert(
    fc.property(snapshotArb, snapshotArb, snapshotArb, (a, b, c) => {
      assert.deepEqual(mergeSnapshots([mergeSnapshots([a, b]), c]), mergeSnapshots([a, mergeSnapshots([b, c])]));
      assert.deepEqual(mergeSnapshots([a, b]), mergeSnapshots([b, a]));
      const m = metricsFrom(mergeSnapshots([a, b, c]));
      assert.equal(m.sessions, a.sessions + b.sessions + c.sessions);
      assert.equal(m.accepted, a.accepted + b.accepted + c.accepted);
    }),
  );
});

test("percentiles of merged parts are those of one histogram of everything, within the stated error of the exact value", () => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.integer({ min: 1, max: 50_000_000 }), { minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 5 }), (parts) => {
      const whole = new Histogram();
      const merged = new Histogram();
      for (const part of parts) {
        const h = new Histogram();
        for (const v of part) {
          h.record(v);
          whole.record(v);
        }
        merged.merge(Histogram.fromRaw(h.raw()));
      }
      const all = parts.flat().sort((x, y) => x - y);
      for (const q of [0.5, 0.9, 0.99, 0.999]) {
        assert.equal(merged.quantile(q), whole.quantile(q));
        const exact = all[Math.max(0, Math.ceil(q * all.length) - 1)] as number;
        assert.ok(merged.quantile(q) >= exact && merged.quantile(q) <= exact * (1 + HISTOGRAM_RELATIVE_ERROR) + 1, `q${q}: ${merged.quantile(q)} vs exact ${exact}`);
      }
    }),
  );
});

test("two worker threads run the same sessions a single thread runs, merged into one result", async (t) => {
  const started = await startNamedTarget("embedded");
  t.after(() => started.stop());
  const target = { host: started.endpoint.host, port: started.endpoint.port, rcpt: started.mailboxes[0] as string, timeoutMs: 10_000 };
  const mix = validateMix({ weights: { basic: 2, pipelined: 1, multi: 1 } });
  const ticks: number[] = [];
  const one = await runStorm({ target, mix, seed: 11, concurrency: 6, durationMs: 20_000, maxSessions: 120 });
  const two = await runStorm({ target, mix, seed: 11, concurrency: 6, durationMs: 20_000, maxSessions: 120, workers: 2, onTick: (m) => ticks.push(m.sessions) });
  assert.equal(two.metrics.sessions, 120);
  assert.equal(two.metrics.count("ok"), one.metrics.count("ok"));
  assert.equal(two.metrics.phases.get("session")?.count, 120);
  assert.equal([...two.metrics.kinds.values()].reduce((a, b) => a + b, 0), 120);
  assert.ok(two.metrics.accepted >= 120, `accepted ${two.metrics.accepted}`);
  assert.ok(two.metrics.timeline.length >= 1);
  assert.ok(ticks.length === 0 || ticks.every((n, i) => i === 0 || n >= (ticks[i - 1] as number)), `live counts only grow: ${ticks.join(",")}`);
});
