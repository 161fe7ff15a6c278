// No MTA outlives the toolkit that started it: a second Ctrl-C stops it on the way out, and a
// toolkit killed with SIGKILL leaves a record from which `target clean` (or the next `target
// start`) stops the orphan by verified PID and removes its directory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { processIdentity } from "../../targets/process/procfs.js";
import { runCli as spawnCli, SMTPCHAOS } from "../cli/spawn.js";

const RELAY = fileURLToPath(new URL("../../../test/targets/fixtures/relay/toy-relay.target.yaml", import.meta.url));
const REGISTRY = join(tmpdir(), `smtpchaos-instances-${process.getuid?.() ?? "user"}`);

interface Rec {
  name: string;
  dir: string;
  mta: { pid: number };
  owner: { pid: number };
}

/** The records of instances owned by `pid`. */
function recordsOf(pid: number): Rec[] {
  if (!existsSync(REGISTRY)) return [];
  return readdirSync(REGISTRY)
    .filter((n) => n.endsWith(".json"))
    .map((n) => JSON.parse(readFileSync(join(REGISTRY, n), "utf8")) as Rec)
    .filter((r) => r.owner.pid === pid);
}

/** `monkey run` against the toy relay, long enough to be killed in its flood; resolves once its target runs. Whatever the test does, the monkey and its relay end with the test. */
async function monkeyRunning(t: { after: (fn: () => Promise<unknown>) => void }): Promise<{ child: ChildProcess; rec: Rec; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [SMTPCHAOS, "monkey", "run", "--target", RELAY, "--duration", "60s", "--concurrency", "1"], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    // a relay the test left behind (it failed before its own clean) has a dead owner now
    await spawnCli(SMTPCHAOS, ["target", "clean"]);
  });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const recs = recordsOf(child.pid ?? -1);
    if (recs.length === 1 && /monkey: target 127\.0\.0\.1:\d+/.test(err)) return { child, rec: recs[0] as Rec, exited };
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the monkey did not get its target running: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const running = (pid: number): boolean => processIdentity(pid) !== null;

test("a toolkit killed with SIGKILL leaves its MTA running; target clean stops it by verified PID and removes its directory", async (t) => {
  const { child, rec, exited } = await monkeyRunning(t);
  assert.ok(running(rec.mta.pid) && existsSync(rec.dir));
  child.kill("SIGKILL");
  await exited;
  assert.ok(running(rec.mta.pid), "the MTA outlived the killed toolkit (the orphan this is about)");
  const r = await spawnCli(SMTPCHAOS, ["target", "clean"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`toy-relay: killed process group ${rec.mta.pid}, removed ${rec.dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  const deadline = Date.now() + 5000;
  while (running(rec.mta.pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  assert.equal(running(rec.mta.pid), false, "the orphan is gone");
  assert.equal(existsSync(rec.dir), false, "its directory is gone");
  assert.deepEqual(recordsOf(child.pid ?? -1), [], "its record is gone");
  assert.match((await spawnCli(SMTPCHAOS, ["target", "clean"])).stdout, /nothing to clean/);
});

test("target start stops the orphans of a killed toolkit first", async (t) => {
  const { child, rec, exited } = await monkeyRunning(t);
  child.kill("SIGKILL");
  await exited;
  const state = join(tmpdir(), `smtpchaos-orphans-state-${process.pid}`);
  const r = await spawnCli(SMTPCHAOS, ["target", "start", "embedded", "--state", state]);
  try {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`left by a toolkit that was killed: toy-relay: killed process group ${rec.mta.pid}`));
    const deadline = Date.now() + 5000;
    while (running(rec.mta.pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    assert.equal(running(rec.mta.pid), false);
    assert.equal(existsSync(rec.dir), false);
  } finally {
    await spawnCli(SMTPCHAOS, ["target", "stop", "embedded", "--state", state]);
  }
});

test("a second Ctrl-C quits within 2 s and takes the MTA and its directory with it", async (t) => {
  const { child, rec, exited } = await monkeyRunning(t);
  child.kill("SIGINT");
  // the second one before the first has finished its orderly stop
  await new Promise((res) => setTimeout(res, 50));
  const second = Date.now();
  child.kill("SIGINT");
  const code = await exited;
  assert.ok(Date.now() - second < 2000, `quit ${Date.now() - second} ms after the second Ctrl-C`);
  assert.equal(code, 130);
  assert.equal(running(rec.mta.pid), false, "the MTA was stopped on the way out");
  assert.equal(existsSync(rec.dir), false, "its directory was removed");
  assert.deepEqual(recordsOf(child.pid ?? -1), []);
});
