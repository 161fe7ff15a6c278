import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDuration } from "../../common/duration.js";

test("durations: single units, compound units largest first, bare milliseconds", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("5s"), 5000);
  assert.equal(parseDuration("2m"), 120_000);
  assert.equal(parseDuration("1.5h"), 5_400_000);
  assert.equal(parseDuration("4m30s"), 270_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("1m500ms"), 60_500);
  assert.equal(parseDuration(" 1s200ms "), 1200);
  assert.equal(parseDuration("42"), 42);
  assert.equal(parseDuration(42), 42);
});

test("durations: anything else is null", () => {
  for (const bad of ["", "h", "5x", "30s4m", "-1s", "1 h 2 m", "ms"]) assert.equal(parseDuration(bad), null, bad);
  assert.equal(parseDuration(-5), null);
  assert.equal(parseDuration(Number.NaN), null);
});
