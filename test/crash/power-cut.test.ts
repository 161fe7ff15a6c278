// power.cut in a monkey run: during the flood every process of the MTA is killed at once, the
// durable directories keep what the model says survives, the MTA starts again and the flood goes
// on. A server that never fsyncs its queue files loses the acknowledged mail still queued at a
// cut under posix (its delivery's directory fsyncs keep the names, not the contents), charged to
// power.cut; one that fsyncs file and directory before its 250 loses nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runMonkey } from "../../monkey/run.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { validatePlan } from "../../monkey/plan.js";
import { monkeyText } from "../../monkey/report.js";
import { recfsUnavailable } from "../../targets/process/recfs.js";

const FIXTURES = fileURLToPath(new URL("../../../test/crash/fixtures/", import.meta.url));
const fixture = (mode: string): string => join(FIXTURES, `durability-${mode}.target.yaml`);
const why = recfsUnavailable();
const skip = why !== null && process.env.CI === undefined ? why : false;

/** The fixture with delivery left to its background thread: mail waits up to a second in its queue after the 250. */
const made: string[] = [];
test.after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
function later(mode: string): string {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-powercut-"));
  made.push(dir);
  const file = join(dir, `later-${mode}.target.yaml`);
  const text = readFileSync(fixture(mode), "utf8").replace("{{here}}/durability-mta.py", join(FIXTURES, "durability-mta.py")).replace(/^name: .*$/m, "").replace("--mode,", "--deliver, later, --mode,");
  writeFileSync(file, text);
  return file;
}

const cut = (file: string, action: string) =>
  runMonkey({
    seed: 4,
    concurrency: 2,
    durationMs: 9_000,
    timeoutMs: 5_000,
    drainTimeoutMs: 15_000,
    plan: validatePlan({ points: { "power.cut": { interval: "2s", probability: 1, action } } }),
    createTarget: (x) => monkeyTarget(file, x),
  });

const mounts = (): string[] => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes("smtpchaos-recfs"));

test("power.cut: a server that never fsyncs its queue files loses the acknowledged mail still queued at each cut (posix), charged to power.cut", { skip, timeout: 180_000 }, async () => {
  if (why !== null) throw new Error(`the recording file system is required in CI: ${why}`);
  const r = await cut(later("nosync"), "posix");
  const text = monkeyText(r);
  assert.ok(r.ledger !== null, text);
  assert.ok((r.reach.find((x) => x.point === "power.cut")?.fired ?? 0) >= 2, `the MTA lost power at least twice: ${text}`);
  assert.ok(r.ledger.lost > 0, `acknowledged mail lost: ${text}`);
  assert.ok((r.ledger.perFault["power.cut"]?.lost ?? 0) > 0, `charged to power.cut: ${JSON.stringify(r.ledger.perFault)}`);
  assert.equal(r.crash, null, "a cut is not a crash of the MTA");
  assert.deepEqual(mounts(), []);
});

test("power.cut: a server that fsyncs file and directory before its 250 loses nothing to the cuts", { skip, timeout: 180_000 }, async () => {
  if (why !== null) throw new Error(`the recording file system is required in CI: ${why}`);
  const r = await cut(later("tmp-rename-dirsync"), "posix");
  const text = monkeyText(r);
  assert.ok((r.reach.find((x) => x.point === "power.cut")?.fired ?? 0) >= 2, text);
  assert.ok(r.ledger !== null && r.ledger.accepted > 10, text);
  assert.equal(r.ledger.lost + r.ledger.duplicates + r.ledger.stuck, 0, text);
  assert.deepEqual(mounts(), []);
});
