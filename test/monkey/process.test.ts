// Pause and kill faults against real child processes we start (never anything else).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { Injector } from "../../monkey/injector.js";
import { validatePlan } from "../../monkey/plan.js";
import { PROCESS_SETTLE_MS, ProcessFaults, refuseMissingRoles, roleOf } from "../../monkey/layers/process.js";
import { StatementError } from "../../monkey/statement.js";

function state(pid: number): string {
  // field 3 of /proc/PID/stat: R, S, T (stopped)...
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

function child(t: { after: (fn: () => void) => void }): ChildProcess & { pid: number } {
  const c = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  t.after(() => {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGCONT");
      c.kill("SIGKILL");
    }
  });
  assert.ok(c.pid !== undefined);
  return c as ChildProcess & { pid: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Signals are delivered asynchronously: poll /proc until the state shows (or give up). */
async function until(pid: number, want: (s: string) => boolean): Promise<string> {
  for (let i = 0; i < 100 && !want(state(pid)); i++) await sleep(10);
  return state(pid);
}

test("roleOf takes the role after the family", () => {
  assert.equal(roleOf("pause.pony express"), "pony express");
  assert.equal(roleOf("kill.Queue"), "queue");
});

test("process faults: pause stops the role's process for the drawn duration, then resumes it", async (t) => {
  const worker = child(t);
  const other = child(t);
  const injector = new Injector({ plan: validatePlan({ points: { "pause.worker": { always: true, duration: "300ms", interval: "1h" } } }), seed: 1 });
  const faults = new ProcessFaults({
    injector,
    processes: async () => [
      { role: "worker", pid: worker.pid },
      { role: "other", pid: other.pid },
    ],
  });
  await faults.start();
  t.after(() => faults.stop());
  await sleep(100);
  await faults.tickNow("pause.worker");
  assert.equal(await until(worker.pid, (s) => s === "T"), "T");
  assert.notEqual(state(other.pid), "T", "only the named role is paused");
  assert.deepEqual(faults.pausedPids(), [worker.pid]);
  await sleep(300);
  assert.notEqual(await until(worker.pid, (s) => s !== "T"), "T");
  assert.deepEqual(faults.events.map((e) => e.action), ["pause", "resume"]);
  assert.equal(faults.events[0]?.ms, 300);
});

test("process faults: stop() resumes paused processes at once", async (t) => {
  const worker = child(t);
  const injector = new Injector({ plan: validatePlan({ points: { "pause.worker": { always: true, duration: "1h", interval: "1h" } } }), seed: 1 });
  const faults = new ProcessFaults({ injector, processes: async () => [{ role: "worker", pid: worker.pid }] });
  await faults.start();
  t.after(() => faults.stop());
  await faults.tickNow("pause.worker");
  assert.equal(await until(worker.pid, (s) => s === "T"), "T");
  await faults.stop();
  assert.notEqual(await until(worker.pid, (s) => s !== "T"), "T");
});

test("process faults: kill sends SIGKILL on the interval schedule", async (t) => {
  const worker = child(t);
  const injector = new Injector({ plan: validatePlan({ points: { "kill.worker": { once: 2, interval: "50ms" } } }), seed: 1 });
  const faults = new ProcessFaults({ injector, processes: async () => [{ role: "worker", pid: worker.pid }] });
  const exited = once(worker, "exit") as Promise<[number | null, string | null]>;
  await faults.start();
  t.after(() => faults.stop());
  const [code, sig] = await exited;
  assert.equal(code, null);
  assert.equal(sig, "SIGKILL");
  assert.deepEqual(faults.events.map((e) => [e.action, e.pid]), [["kill", worker.pid]]);
  assert.equal(injector.stats()[0]?.eligible, 2, "the second tick fired");
});

test("process faults: `only` leaves the other points to the layer that owns them", async (t) => {
  const worker = child(t);
  const injector = new Injector({
    plan: validatePlan({ points: { "kill.worker": { always: true, interval: "20ms" }, "kill.other": { always: true, interval: "20ms" } } }),
    seed: 1,
  });
  const faults = new ProcessFaults({ injector, processes: async () => [{ role: "worker", pid: worker.pid }], only: ["kill.other"] });
  await faults.start();
  t.after(() => faults.stop());
  assert.deepEqual(faults.points(), ["kill.other"]);
  await sleep(120);
  assert.equal(injector.stats().find((s) => s.point === "kill.worker")?.calls, 0, "kill.worker is not this layer's");
  assert.equal(worker.exitCode, null);
  assert.equal(worker.signalCode, null);
});

test("process faults: a role that resolves to this process, its parent or init is never signalled", async () => {
  const sent: Array<[number, string]> = [];
  const injector = new Injector({ plan: validatePlan({ points: { "kill.init": { always: true } } }), seed: 1 });
  const pids = [1, process.pid, process.ppid];
  const faults = new ProcessFaults({ injector, processes: async () => pids.map((pid) => ({ role: "init", pid })), signal: (pid, sig) => sent.push([pid, sig]) });
  await faults.tickNow("kill.init");
  assert.deepEqual(sent, []);
  assert.deepEqual(
    faults.events.map((e) => [e.pid, e.error]),
    pids.map((pid) => [pid, "refused: the toolkit's own process or init"]),
  );
});

test("refuseMissingRoles: kill.init on a target without processes of its own is a StatementError naming why", () => {
  assert.throws(() => refuseMissingRoles(["kill.init"], [], "embedded"), (err: unknown) => err instanceof StatementError && /kill\.init refused: .*runs inside the monkey's process/.test(err.message));
  assert.throws(() => refuseMissingRoles(["pause.queue", "kill.smtpd"], [{ role: "smtpd", pid: 5 }], "x"), /pause\.queue refused: x has no process with that role \(roles: smtpd\)/);
  refuseMissingRoles(["kill.smtpd"], [{ role: "SMTPD", pid: 5 }], "x");
});

test("process faults: kill hits one process of the role, drawn from the seed; scope all hits every one", async (t) => {
  const pids = [child(t), child(t), child(t)].map((c) => c.pid);
  const run = async (seed: number, scope: "one" | "all", ticks: number): Promise<{ killed: number[]; hits: Record<string, number>; until: number | undefined }> => {
    const killed: number[] = [];
    const injector = new Injector({ plan: validatePlan({ points: { "kill.worker": { always: true, interval: "1h", scope } } }), seed });
    const faults = new ProcessFaults({ injector, processes: async () => pids.map((pid) => ({ role: "worker", pid })), signal: (pid) => void killed.push(pid) });
    for (let i = 0; i < ticks; i++) await faults.tickNow("kill.worker");
    const hits = faults.processesHit();
    const fired = injector.lastFired("kill.worker");
    await faults.stop();
    return { killed, hits, until: fired?.until };
  };
  const a = await run(7, "one", 6);
  assert.equal(a.killed.length, 6, "one process per decision");
  assert.ok(a.killed.every((p) => pids.includes(p)));
  assert.ok(new Set(a.killed).size > 1, `the draws differ between decisions: ${a.killed.join(",")}`);
  assert.deepEqual((await run(7, "one", 6)).killed, a.killed, "the same seed draws the same processes");
  assert.deepEqual(a.hits, { "kill.worker": 6 }, "the report counts processes hit");
  const all = await run(7, "all", 1);
  assert.deepEqual([...all.killed].sort(), [...pids].sort(), "scope all: every process of the role");
  assert.deepEqual(all.hits, { "kill.worker": 3 });
  assert.ok(all.until !== undefined && all.until > Date.now() - 1000, "a kill lasts until its role serves again: its effect has an end");
});

test("process faults: a pause lasts its duration plus the settle window; the clients it was serving are recorded", async (t) => {
  const worker = child(t);
  const injector = new Injector({ plan: validatePlan({ points: { "pause.worker": { always: true, duration: "200ms", interval: "1h" } } }), seed: 1 });
  const faults = new ProcessFaults({ injector, processes: async () => [{ role: "worker", pid: worker.pid }], ports: () => [] });
  t.after(() => faults.stop());
  await faults.tickNow("pause.worker");
  const f = injector.lastFired("pause.worker");
  assert.ok(f !== null);
  assert.equal((f.until ?? 0) - f.at, 200 + PROCESS_SETTLE_MS);
  assert.equal(f.served, undefined, "a process serving no client cuts none off");
  assert.equal(injector.firedBetween(f.at + 1000, f.at + 1500).length, 1, "a session during the pause's effect is charged to it");
  assert.equal(injector.firedBetween(f.at + 200 + PROCESS_SETTLE_MS + 10, f.at + 5000).length, 0, "one after it is not");
  assert.notEqual(await until(worker.pid, (s) => s !== "T"), "T", "resumed after its duration");
});

test("process faults: a decision that finds no process of the role is no firing: not counted, not charged", async () => {
  const injector = new Injector({ plan: validatePlan({ points: { "kill.worker": { always: true, interval: "1h" } } }), seed: 1 });
  const faults = new ProcessFaults({ injector, processes: async () => [], signal: () => assert.fail("nothing to signal") });
  const t0 = Date.now();
  await faults.tickNow("kill.worker");
  await faults.stop();
  assert.equal(injector.stats()[0]?.fired, 0);
  assert.deepEqual(injector.firedBetween(t0 - 1000, Date.now() + 1000), []);
  assert.deepEqual(faults.processesHit(), {});
  assert.equal(faults.events[0]?.error, "no process with this role");
});
