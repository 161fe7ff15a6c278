// The one interpreter of smtpscript's `monkey` statement (monkey/controller.ts), as smtpscript's
// own targets use it: over the embedded MTA's in-process hooks, and over a real MTA's surface,
// whose libfiu cannot slow a call (a delay stops the role that owns the queue instead).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Injector } from "../../monkey/injector.js";
import { validatePlan } from "../../monkey/plan.js";
import { PlanController, StatementError } from "../../monkey/controller.js";
import { InProcessSurface } from "../../monkey/layers/wrap.js";
import { RealFaultSurface, type FiuChannel } from "../../monkey/real/surface.js";
import { FIU_POINTS } from "../../monkey/real/libfiu.js";
import { createFaultableTarget } from "../../monkey/targets.js";
import { FAULT_POINTS, InjectedFault, type FaultPoints } from "../../targets/embedded/fault-points.js";
import type { Target } from "../../targets/target.js";
import { runScript, startTarget } from "../../api/index.js";

const empty = (): Injector => new Injector({ plan: validatePlan({ points: {} }), seed: 0 });

test("statements on the embedded MTA's hooks: fail once, fail another point, delay, clear", async () => {
  let hooks: FaultPoints | null = null;
  const surface = new InProcessSurface({ setFaults: (f) => (hooks = f) });
  const controller = new PlanController({ injector: empty(), surface, target: "embedded" });
  const check = (point: (typeof FAULT_POINTS)[number], phase: "DATA" | "RCPT" = "DATA"): Promise<void> => Promise.resolve((hooks as FaultPoints | null)?.check(point, { phase }));

  await controller.apply(["fail", "queue.write", "once"]);
  await assert.rejects(check("queue.write"), (err: unknown) => err instanceof InjectedFault && err.errno === "EIO");
  await check("queue.write");
  // a later statement on another point does not arm queue.write again
  await controller.apply(["fail", "lookup.recipients", "once"]);
  await check("queue.write");
  await assert.rejects(check("lookup.recipients", "RCPT"), InjectedFault);
  await check("lookup.recipients", "RCPT");

  await controller.apply(["delay", "queue.fsync", "60ms", "always"]);
  const t0 = Date.now();
  await check("queue.fsync");
  assert.ok(Date.now() - t0 >= 55, "delayed, then let through");

  await controller.apply(["fail", "queue.open", "times", "2"]);
  await controller.apply(["clear", "queue.open"]);
  await check("queue.open");
  await assert.rejects(controller.apply(["fail", "net.reset"]), (err: unknown) => err instanceof StatementError && /embedded has no fault point net\.reset/.test(err.message));
  await controller.clear();
  assert.equal(hooks, null, "clear takes the hooks out");
});

test("smtpscript's embedded target gets its statements from the same interpreter", async () => {
  const f = createFaultableTarget("embedded");
  const script = f.script();
  assert.ok(script !== null);
  assert.deepEqual([...script.points], [...FAULT_POINTS]);
  await assert.rejects(Promise.resolve(script.apply(["fail", "queue.nope"])), /no fault point queue\.nope/);
  await script.apply(["fail", "queue.write", "always"]);
  await script.clear();
});

class RecordingChannel implements FiuChannel {
  readonly scope = {};
  readonly points = FIU_POINTS;
  readonly logged = [];
  readonly sets: string[][] = [];
  async set(commands: string[]): Promise<void> {
    this.sets.push(commands);
  }
}

const fakeTarget = { name: "fake", processes: async () => [], onLog: () => () => {} } as unknown as Target;

test("a real MTA's delay of a queue point stops the role that owns its queue instead (libfiu cannot slow a call)", async () => {
  const surface = new RealFaultSurface({ target: fakeTarget, fiu: new RecordingChannel(), lookups: null, roles: ["queue"], stallRole: "queue" });
  assert.deepEqual(surface.delayInstead("queue.write", 2000), ["pause.queue", { once: true, duration: "2000ms", interval: "10ms" }]);
  assert.equal(surface.delayInstead("lookup.recipients", 2000), null, "lookups are slowed where they are answered");
  const controller = new PlanController({ injector: empty(), surface, target: "fake" });
  await controller.apply(["delay", "queue.write", "2s", "once"]);
  assert.deepEqual(Object.keys(controller.document().points), ["pause.queue"]);
  assert.ok(surface.processes !== null, "the surface's process faults carry it out");
  await controller.clear();
  assert.equal(surface.processes, null);

  // without a role that owns the queue the delay is refused, saying why and what to do instead, and nothing changes
  const noStall = new RealFaultSurface({ target: fakeTarget, fiu: new RecordingChannel(), lookups: null, roles: [] });
  const c2 = new PlanController({ injector: empty(), surface: noStall, target: "fake" });
  await assert.rejects(c2.apply(["delay", "queue.write", "2s"]), (err: unknown) => err instanceof StatementError && /cannot delay queue\.write on fake: libfiu fails calls but cannot slow them, and this target has no stall role/.test(err.message) && /stallRole/.test(err.message));
  assert.deepEqual(c2.document().points, {});
  // libfiu has no counter: "times 2" is refused the same way
  await assert.rejects(c2.apply(["fail", "queue.write", "times", "2"]), /limit 2 cannot be done by libfiu/);
});

test("clear says which armed points never fired; a point a statement withdrew before it fired is not among them", async () => {
  let hooks: FaultPoints | null = null;
  const surface = new InProcessSurface({ setFaults: (f) => (hooks = f) });
  const controller = new PlanController({ injector: empty(), surface, target: "embedded" });
  const check = (point: (typeof FAULT_POINTS)[number]): Promise<void> => Promise.resolve((hooks as FaultPoints | null)?.check(point, { phase: "DATA" }));
  await controller.apply(["fail", "queue.write", "once"]);
  await controller.apply(["fail", "queue.fsync", "once"]);
  await controller.apply(["fail", "queue.open", "always"]);
  await controller.apply(["clear", "queue.open"]);
  await assert.rejects(check("queue.write"), InjectedFault);
  assert.deepEqual(await controller.clear(), ["queue.fsync"], "queue.write fired; queue.open was withdrawn");
  await controller.apply(["fail", "queue.write", "once"]);
  await assert.rejects(check("queue.write"), InjectedFault);
  assert.deepEqual(await controller.clear(), [], "counts restart at each clear");
});

test("smtpscript: a test-case whose armed fault never fired is 'skipped: not reached', not a pass or a failure", async (t) => {
  const target = await startTarget("embedded");
  t.after(() => target.stop());
  const source = [
    "proc ehlo {",
    "\texpect smtp ok",
    '\twriteln "EHLO client.example"',
    "\texpect smtp helo",
    "}",
    'test-case name "armed-never-fired" {',
    "\tcall ehlo",
    "\tmonkey fail queue.fsync once",
    '\twriteln "NOOP"',
    "\texpect smtp ok",
    "}",
    'test-case name "withdrawn" {',
    "\tcall ehlo",
    "\tmonkey fail queue.fsync once",
    "\tmonkey clear queue.fsync",
    '\twriteln "NOOP"',
    "\texpect smtp ok",
    "}",
    "",
  ].join("\n");
  const { results } = await runScript({ source, name: "reach.smtp" }, target);
  assert.deepEqual(results.map((r) => [r.name, r.status, r.skipReason]), [
    ["armed-never-fired", "skipped", "not reached: queue.fsync was armed but never fired"],
    ["withdrawn", "passed", null],
  ]);
});
