import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Histogram } from "../../storm/histogram.js";

function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
}

const latency = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 10_000_000 }));

test("property: quantiles are never below the exact value and at most 3.2% above it", () => {
  fc.assert(
    fc.property(fc.array(latency, { minLength: 1, maxLength: 300 }), fc.constantFrom(0.5, 0.9, 0.99, 0.999, 1), (values, q) => {
      const h = new Histogram();
      for (const v of values) h.record(v);
      const exact = exactQuantile(values, q);
      const got = h.quantile(q);
      assert.ok(got >= exact, `q${q}: ${got} < exact ${exact}`);
      assert.ok(got <= Math.max(exact * 1.032, exact + 1), `q${q}: ${got} too far above exact ${exact}`);
      assert.equal(h.max, Math.max(...values));
      assert.equal(h.count, values.length);
    }),
  );
});

test("property: merging two histograms equals recording everything into one", () => {
  fc.assert(
    fc.property(fc.array(latency, { maxLength: 200 }), fc.array(latency, { maxLength: 200 }), (a, b) => {
      const ha = new Histogram();
      const hb = new Histogram();
      const all = new Histogram();
      for (const v of a) {
        ha.record(v);
        all.record(v);
      }
      for (const v of b) {
        hb.record(v);
        all.record(v);
      }
      ha.merge(hb);
      assert.deepEqual(ha.toJSON(), all.toJSON());
    }),
  );
});

test("an empty histogram reports zeros", () => {
  assert.deepEqual(new Histogram().toJSON(), { count: 0, min: 0, max: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0 });
});
