// Shards in time: a --start-at already past is refused (or, with --late-ok, named as a warning);
// `storm merge` refuses parts that did not run together and names each part's lateness, reads the
// peak concurrency from the merged timeline, and says unreachable when nothing connected; the
// descriptor check bounds a run by what it really holds at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorLines, runCli, SMTPCHAOS } from "../cli/spawn.js";
import { freePort } from "../../targets/process/free-port.js";
import { Metrics } from "../../storm/metrics.js";
import { toJson } from "../../storm/report.js";
import type { StormJson } from "../../storm/report.js";
import { mergeParts, MergeError } from "../../storm/merge.js";

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-shard-timing-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A part of a run: shard `index` of 2, started at `startMs`, with this in-flight count (all of them held) each second. */
function part(index: number, startMs: number, concurrency: number[], outcome: "ok" | "refused" = "ok"): StormJson {
  const m = new Metrics();
  for (let i = 0; i < 4; i++) {
    m.sessionStarted();
    m.sessionEnded(outcome, outcome === "ok" ? 1 : 0);
    if (outcome === "ok") m.phase("connect", 1);
  }
  concurrency.forEach((c, i) => {
    m.inFlight = c;
    m.holding = c;
    m.sample(i + 1);
  });
  m.inFlight = 0;
  m.holding = 0;
  m.maxConcurrency = Math.max(...concurrency);
  m.maxHolding = Math.max(...concurrency);
  return toJson({ metrics: m, startedAt: startMs, seed: 5 + index, durationMs: concurrency.length * 1000, interrupted: false, model: "closed", failure: null, shard: { index, count: 2, runSeed: 5 } }, "127.0.0.1:2525", []);
}

test("a --start-at already past is refused with its lateness, or started with a warning under --late-ok", async () => {
  const closed = await freePort();
  const past = String(Math.floor(Date.now() / 1000) - 30);
  const refused = await runCli(SMTPCHAOS, ["storm", "--port", String(closed), "--shard", "2/3", "--start-at", past, "--duration", "1s"]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.equal(errorLines(refused).length, 1, refused.stderr);
  assert.match(refused.stderr, /--start-at \d+ passed 3\d\.\d s ago \(shard 2\/3\).*--late-ok/);
  const late = await runCli(SMTPCHAOS, ["storm", "--port", String(closed), "--shard", "2/3", "--start-at", past, "--late-ok", "--duration", "1s"]);
  assert.match(late.stderr, /storm: warning: --start-at \d+ passed 3\d\.\d s ago \(shard 2\/3\); starting now \(--late-ok\)/);
  assert.match(late.stderr, /unreachable/, "it ran (against a closed port)");
});

test("merge refuses parts that did not run at the same time, naming each part's start after the earliest; --apart-ok merges them with a note", async (t) => {
  const dir = tempDir(t);
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  writeFileSync(join(dir, "a.json"), JSON.stringify(part(0, t0, [2, 2, 2])));
  writeFileSync(join(dir, "b.json"), JSON.stringify(part(1, t0 + 60_000, [2, 2, 2])));
  const apart = await runCli(SMTPCHAOS, ["storm", "merge", join(dir, "a.json"), join(dir, "b.json")]);
  assert.equal(apart.code, 2, apart.stderr);
  assert.equal(errorLines(apart).length, 1, apart.stderr);
  assert.match(apart.stderr, /did not all run at the same time .*a\.json \+0\.0 s \(ran 3\.0 s\), .*b\.json \+60\.0 s \(ran 3\.0 s\).*--apart-ok/);
  const ok = await runCli(SMTPCHAOS, ["storm", "merge", join(dir, "a.json"), join(dir, "b.json"), "--apart-ok"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /note: the parts did not all run at the same time .*merged anyway \(--apart-ok\)/);

  // overlapping, but 2 s apart: merged, with the lateness noted
  const near = mergeParts([
    { file: "a.json", doc: part(0, t0, [2, 2, 2, 2]) },
    { file: "b.json", doc: part(1, t0 + 2000, [2, 2, 2, 2]) },
  ]);
  assert.match(near.notes.join("\n"), /started up to 2\.0 s apart .*b\.json \+2\.0 s/);
  assert.throws(() => mergeParts([{ file: "a.json", doc: part(0, t0, [1]) }, { file: "b.json", doc: part(1, t0 + 5000, [1]) }]), MergeError);
});

test("merged peak concurrency and peak held sessions come from the merged timeline, not the sum of the parts' peaks", () => {
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  // part A peaks in its first second, part B in its last: never together
  const merged = mergeParts([
    { file: "a.json", doc: part(0, t0, [4, 1, 1, 1]) },
    { file: "b.json", doc: part(1, t0, [1, 1, 1, 4]) },
  ]);
  assert.equal(merged.result.metrics.maxConcurrency, 5);
  assert.equal(merged.result.metrics.maxHolding, 5);
  const together = mergeParts([
    { file: "a.json", doc: part(0, t0, [4, 1]) },
    { file: "b.json", doc: part(1, t0, [4, 1]) },
  ]);
  assert.equal(together.result.metrics.maxConcurrency, 8);
  assert.equal(together.result.metrics.maxHolding, 8);
});

test("merge of parts where nothing connected says unreachable (exit 2)", async (t) => {
  const dir = tempDir(t);
  const t0 = Date.now();
  writeFileSync(join(dir, "a.json"), JSON.stringify(part(0, t0, [2, 2], "refused")));
  writeFileSync(join(dir, "b.json"), JSON.stringify(part(1, t0, [2, 2], "refused")));
  const r = await runCli(SMTPCHAOS, ["storm", "merge", join(dir, "a.json"), join(dir, "b.json"), "--json", join(dir, "m.json")]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /storm merge: 127\.0\.0\.1:2525 unreachable: none of 8 sessions connected \(8 refused, 0 timed out\)/);
  assert.equal((JSON.parse(readFileSync(join(dir, "m.json"), "utf8")) as StormJson).sessions, 8, "the merged report is still written");
});

test("the descriptor check bounds a closed-loop run by its sessions, not --max-in-flight, and a shard by its share", async () => {
  const closed = await freePort();
  const big = await runCli(SMTPCHAOS, ["storm", "--port", String(closed), "--sessions", "12000", "--duration", "1s"], { shell: "ulimit -n 11000" });
  assert.equal(big.code, 2, big.stderr);
  assert.match(big.stderr, /up to 12000 sessions need about 12064 file descriptors, but the limit is 11000; raise it with 'ulimit -n 13088'/);
  const shard = await runCli(SMTPCHAOS, ["storm", "--port", String(closed), "--sessions", "12000", "--shard", "1/4", "--duration", "1s"], { shell: "ulimit -n 4000" });
  assert.equal(shard.code, 2, shard.stderr);
  assert.doesNotMatch(shard.stderr, /file descriptors/, "3000 sessions fit in 4000 descriptors");
  assert.match(shard.stderr, /unreachable/);
});
