// `smtpchaos target start|stop|status` as a user runs it: a state file never makes it signal a
// process it did not start, two starts cannot both win, and bad state gives one line and exit 2.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isLive, isSameProcess, processIdentity } from "../../targets/process/procfs.js";
import type { ProcessIdentity } from "../../targets/process/procfs.js";
import { waitFor } from "./helpers.js";

const CLI = fileURLToPath(new URL("../../bin/smtpchaos.js", import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, "target", ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh state directory; on cleanup, stops whatever it still tracks (by the recorded identity only). */
function stateDir(t: { after: (fn: () => Promise<void> | void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "target-cli-test-"));
  t.after(async () => {
    const file = join(dir, "embedded.json");
    if (existsSync(file)) {
      const s = JSON.parse(readFileSync(file, "utf8")) as { identity?: ProcessIdentity };
      if (s.identity !== undefined && isSameProcess(s.identity)) await cli("stop", "embedded", "--state", dir);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A process the test owns and kills afterwards, standing in for an unrelated program that got a recorded PID. */
function bystander(t: { after: (fn: () => void) => void }): ChildProcess & { pid: number } {
  const c = spawn("sleep", ["60"], { stdio: "ignore" });
  t.after(() => {
    if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });
  assert.ok(c.pid !== undefined);
  return c as ChildProcess & { pid: number };
}

/** Host processes of a state directory, found by the state file on their command line. */
function hostsOf(dir: string): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => processIdentity(pid)?.cmdline.includes(`host.js embedded ${dir}/`) === true);
}

const oneLine = (r: Run): void => {
  assert.equal(r.stderr.trim().split("\n").length, 1, `one line, got: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
};

const STATE_BASE = { name: "embedded", endpoint: { host: "127.0.0.1", port: 9 }, log: "/nonexistent.log", startedAt: "2020-01-01T00:00:00Z" };

test("target stop/status never signal a PID that is now another process", async (t) => {
  const dir = stateDir(t);
  const sleep = bystander(t);
  const real = processIdentity(sleep.pid);
  assert.ok(real !== null);
  const file = join(dir, "embedded.json");
  // A host that once had this PID: same PID, another start time and command line.
  const host: ProcessIdentity = { pid: sleep.pid, startTime: "1", bootId: real.bootId, cmdline: `/usr/bin/node host.js embedded ${file}` };
  writeFileSync(file, JSON.stringify({ ...STATE_BASE, pid: sleep.pid, identity: host }));
  const st = await cli("status", "embedded", "--state", dir);
  assert.equal(st.code, 1);
  assert.match(st.stdout, new RegExp(`pid ${sleep.pid} is now another process`));
  assert.equal(existsSync(file), false, "status cleaned the stale state");

  writeFileSync(file, JSON.stringify({ ...STATE_BASE, pid: sleep.pid, identity: host }));
  const r = await cli("stop", "embedded", "--state", dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /not running: .*removed the stale state file/);
  assert.equal(existsSync(file), false);
  await new Promise((res) => setTimeout(res, 200));
  assert.ok(isLive(sleep.pid), "the bystander was not signalled");

  // The repro: an old-style state file naming the bystander's PID (no identity).
  writeFileSync(file, JSON.stringify({ ...STATE_BASE, pid: sleep.pid }));
  const legacy = await cli("stop", "embedded", "--state", dir);
  assert.equal(legacy.code, 0, legacy.stderr);
  assert.match(legacy.stdout, /recorded without its start time/);
  await new Promise((res) => setTimeout(res, 200));
  assert.ok(isLive(sleep.pid), "the bystander was not signalled");
});

test("two concurrent target starts: one wins, the other exits 2 with one line; stop ends it", async (t) => {
  const dir = stateDir(t);
  const [a, b] = await Promise.all([cli("start", "embedded", "--state", dir), cli("start", "embedded", "--state", dir)]);
  const runs = [a, b].sort((x, y) => x.code - y.code) as [Run, Run];
  assert.deepEqual(
    runs.map((r) => r.code),
    [0, 2],
    `stderr: ${a.stderr} | ${b.stderr}`,
  );
  oneLine(runs[1]);
  assert.match(runs[1].stderr, /already running|starting or stopping this target/);
  assert.equal(hostsOf(dir).length, 1, "exactly one host runs");
  const state = JSON.parse(readFileSync(join(dir, "embedded.json"), "utf8")) as { pid: number; identity: ProcessIdentity };
  assert.ok(isSameProcess(state.identity));
  assert.equal(existsSync(join(dir, "embedded.json.lock")), false, "the lock is released");

  const stop = await cli("stop", "embedded", "--state", dir);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(isLive(state.pid), false);
  assert.equal(existsSync(join(dir, "embedded.json")), false);
});

test("a lock held by a live command refuses the start; a dead owner's lock is broken", async (t) => {
  const dir = stateDir(t);
  const lock = join(dir, "embedded.json.lock");
  const me = processIdentity(process.pid);
  assert.ok(me !== null);
  writeFileSync(lock, JSON.stringify(me));
  const busy = await cli("start", "embedded", "--state", dir);
  assert.equal(busy.code, 2);
  oneLine(busy);
  assert.match(busy.stderr, new RegExp(`pid ${process.pid} is starting or stopping this target`));
  assert.equal(hostsOf(dir).length, 0, "nothing was spawned");

  writeFileSync(lock, JSON.stringify({ ...me, startTime: "1" })); // its owner is long gone
  const ok = await cli("start", "embedded", "--state", dir);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(hostsOf(dir).length, 1);
  assert.equal((await cli("stop", "embedded", "--state", dir)).code, 0);
});

test("unusable or corrupt state: one line, exit 2, nothing left running", async (t) => {
  const dir = stateDir(t);
  const notADir = join(dir, "plain-file");
  writeFileSync(notADir, "x");
  const r1 = await cli("start", "embedded", "--state", notADir);
  assert.equal(r1.code, 2);
  oneLine(r1);
  assert.match(r1.stderr, /not a directory/);

  mkdirSync(join(dir, "embedded.json")); // the state file's path is a directory
  const r2 = await cli("start", "embedded", "--state", dir);
  assert.equal(r2.code, 2);
  oneLine(r2);
  assert.match(r2.stderr, /not a regular file/);
  assert.equal(hostsOf(dir).length, 0, "no host was spawned");
  rmSync(join(dir, "embedded.json"), { recursive: true });

  for (const bad of ["{", "null", '{"name":"embedded","pid":"1"}']) {
    writeFileSync(join(dir, "embedded.json"), bad);
    for (const action of ["start", "stop", "status"]) {
      const r = await cli(action, "embedded", "--state", dir);
      assert.equal(r.code, 2, `${action} with ${bad}: ${r.stderr}`);
      oneLine(r);
      assert.match(r.stderr, /state file .*embedded\.json/);
    }
  }
  assert.equal(hostsOf(dir).length, 0, "no host was spawned");
});

test("a host killed with -9 leaves its instance directory; the next start removes it", async (t) => {
  const dir = stateDir(t);
  assert.equal((await cli("start", "embedded", "--state", dir)).code, 0);
  const first = JSON.parse(readFileSync(join(dir, "embedded.json"), "utf8")) as { pid: number; identity: ProcessIdentity; instanceDir: string };
  assert.ok(existsSync(first.instanceDir), "the state names the instance directory");
  assert.ok(isSameProcess(first.identity));
  process.kill(first.pid, "SIGKILL");
  await waitFor("the host to die", async () => !isLive(first.pid));
  assert.ok(existsSync(first.instanceDir), "SIGKILL left the directory behind");

  const again = await cli("start", "embedded", "--state", dir);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /removed .*instance directory/);
  assert.equal(existsSync(first.instanceDir), false);
  const second = JSON.parse(readFileSync(join(dir, "embedded.json"), "utf8")) as { instanceDir: string };
  assert.notEqual(second.instanceDir, first.instanceDir);

  // A state naming a directory that is not one of ours: it stays.
  const foreign = mkdtempSync(join(tmpdir(), "not-smtpchaos-"));
  t.after(() => rmSync(foreign, { recursive: true, force: true }));
  const stop = await cli("stop", "embedded", "--state", dir);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(existsSync(second.instanceDir), false, "a clean stop removes it");
  writeFileSync(join(dir, "embedded.json"), JSON.stringify({ ...STATE_BASE, pid: 999_999, instanceDir: foreign }));
  const stale = await cli("stop", "embedded", "--state", dir);
  assert.equal(stale.code, 0, stale.stderr);
  assert.ok(existsSync(foreign), "a directory not created by a target is never removed");
});
