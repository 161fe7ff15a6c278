// Storm at scale through the CLI: shards of one run merged give that run's totals and verdict,
// worker threads report one merged result, Ctrl-C still writes it, and bad scale flags are one
// line with exit 2.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, SMTPCHAOS } from "../cli/spawn.js";
import { startFixture } from "./fixture-server.js";
import type { StormJson } from "../../storm/report.js";

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-shards-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const read = (f: string): StormJson => JSON.parse(readFileSync(f, "utf8")) as StormJson;

test("three shards of a run, merged, have the run's totals and its threshold verdict", async (t) => {
  const dir = tempDir(t);
  const fx = await startFixture();
  t.after(() => fx.close());
  const base = ["storm", "--port", String(fx.port), "--sessions", "6", "--max-sessions", "90", "--duration", "30s", "--seed", "77", "--weight", "basic=2", "--weight", "pipelined=1", "--transactions", "2"];
  const one = await runCli(SMTPCHAOS, [...base, "--json", join(dir, "one.json")]);
  assert.equal(one.code, 0, one.stderr);
  const soon = String(Math.floor(Date.now() / 1000) + 2);
  const shards = await Promise.all([1, 2, 3].map((i) => runCli(SMTPCHAOS, [...base, "--shard", `${i}/3`, "--start-at", soon, "--json", join(dir, `s${i}.json`)])));
  for (const s of shards) {
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stderr, /waiting until .* to start \(shard \d\/3\)/);
  }
  const parts = [1, 2, 3].map((i) => read(join(dir, `s${i}.json`)));
  assert.deepEqual(parts.map((p) => p.sessions), [30, 30, 30]);
  assert.equal(new Set(parts.map((p) => p.seed)).size, 3, "each shard has its own derived seed");
  assert.deepEqual(parts.map((p) => p.shard), [0, 1, 2].map((index) => ({ index, count: 3, runSeed: 77 })));

  // merge order does not matter, and the verdict is the whole run's
  const merged = await runCli(SMTPCHAOS, ["storm", "merge", join(dir, "s3.json"), join(dir, "s1.json"), join(dir, "s2.json"), "--threshold", "count(accepted)>=180", "--threshold", "rate(ungraceful)==0", "--json", join(dir, "merged.json")]);
  assert.equal(merged.code, 0, merged.stderr);
  const m = read(join(dir, "merged.json"));
  const whole = read(join(dir, "one.json"));
  assert.equal(m.sessions, whole.sessions);
  assert.equal(m.accepted, whole.accepted);
  assert.deepEqual(m.outcomes, whole.outcomes);
  assert.equal(m.codes["dot 250"], whole.codes["dot 250"]);
  assert.equal(m.seed, 77);
  assert.equal(m.phases.session?.count, 90);
  assert.deepEqual(m.thresholds.map((x) => x.ok), [true, true]);
  assert.match(merged.stdout, /\(3 parts merged\)/);

  const failing = await runCli(SMTPCHAOS, ["storm", "merge", join(dir, "s1.json"), join(dir, "s2.json"), "--threshold", "count(accepted)>=180"]);
  assert.equal(failing.code, 1, "two of three shards do not reach the run's total");
  assert.match(failing.stderr, /shards 3\/3 are missing: the report covers 2 of 3/);

  const twice = await runCli(SMTPCHAOS, ["storm", "merge", join(dir, "s1.json"), join(dir, "s1.json")]);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /are both shard 1\/3/);
  const huge = join(dir, "huge.json");
  writeFileSync(huge, "");
  truncateSync(huge, 65 * 1024 * 1024); // sparse: nothing is written
  const tooBig = await runCli(SMTPCHAOS, ["storm", "merge", huge]);
  assert.equal(tooBig.code, 2);
  assert.match(tooBig.stderr, /huge\.json: 68157440 bytes, more than a storm --json result/);
  const notJson = await runCli(SMTPCHAOS, ["storm", "merge", join(dir, "nope.json")]);
  assert.equal(notJson.code, 2);
  assert.match(notJson.stderr, /nope\.json: no such file/);
});

test("--workers 2: one progress line and one report; Ctrl-C still writes the merged partial report", async (t) => {
  const dir = tempDir(t);
  const fx = await startFixture();
  t.after(() => fx.close());
  const done = await runCli(SMTPCHAOS, ["storm", "--port", String(fx.port), "--sessions", "4", "--max-sessions", "40", "--duration", "30s", "--workers", "2", "--seed", "3", "--json", join(dir, "w.json")]);
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stderr, /2 worker threads/);
  assert.equal(read(join(dir, "w.json")).sessions, 40);
  let sent = false;
  const cut = await runCli(SMTPCHAOS, ["storm", "--port", String(fx.port), "--sessions", "4", "--duration", "60s", "--workers", "2", "--json", join(dir, "cut.json")], {
    onStdout: (text, kill) => {
      if (!sent && /worker threads/.test(text)) {
        sent = true;
        setTimeout(() => kill("SIGINT"), 1500);
      }
    },
  });
  assert.equal(cut.code, 130, cut.stderr);
  const partial = read(join(dir, "cut.json"));
  assert.equal(partial.interrupted, true);
  assert.ok(partial.sessions > 0, "the sessions run before Ctrl-C are in the report");
});

test("scale flags: a bad --shard, --start-at, --source or --workers is one line and exit 2", async () => {
  for (const [flag, value, message] of [
    ["--shard", "4/3", /--shard expects I\/N/],
    ["--start-at", "tomorrow", /--start-at expects an ISO 8601 time/],
    ["--source", "10.0.0.1-10.0.0.3", /--source: 10\.0\.0\.1 is not a loopback address/],
    ["--workers", "0", /--workers/],
  ] as const) {
    const r = await runCli(SMTPCHAOS, ["storm", "--port", "1", flag, value]);
    assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});
