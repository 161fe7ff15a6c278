import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { PlanError, WindowsError, describeSpec, fitWindows, parseFaultFlag, parsePlanText, planDocFromFlags, validatePlan, type FaultPlan, type FaultSpec } from "../../monkey/plan.js";
import { Injector } from "../../monkey/injector.js";
import { Stream, parseSeed } from "../../common/rng.js";
import { issuesOf } from "./plan-issues.js";

test("YAML plan with every schedule kind, latency forms and windows", () => {
  const plan = parsePlanText(`
seed: 42
windows: { clean: 2s, faults: 1m, heal: 500ms }
points:
  queue.write: { probability: 0.05, errno: ENOSPC, after: DATA }
  queue.fsync: { every: 10 }
  queue.open: { once: 3, limit: 1 }
  lookup.recipients:
    always: true
    actions: { tempfail: 3, garbage: 1 }
    latency: uniform(10ms, 50ms)
  lookup.domains: { every: { n: 4, offset: 2 }, action: delay, latency: { dist: lognormal, median: 20ms, sigma: 0.5, max: 2s } }
  pause.queue: { interval: 5s, probability: 0.5, duration: exp(1s) }
  net.stall: { probability: 0.1, duration: 3s, at: body }
`);
  assert.equal(plan.seed, 42);
  assert.deepEqual(plan.windows, { cleanMs: 2000, faultsMs: 60000, healMs: 500 });
  const by = new Map(plan.points.map((p) => [p.name, p]));
  assert.deepEqual(by.get("queue.write")?.schedule, { kind: "probability", p: 0.05 });
  assert.equal(by.get("queue.write")?.errno, 28);
  assert.deepEqual(by.get("queue.write")?.phase, { op: "after", phase: "data" });
  assert.equal(by.get("queue.fsync")?.errno, 5, "EIO is the default errno");
  assert.deepEqual(by.get("queue.fsync")?.schedule, { kind: "every", n: 10, offset: 10 });
  assert.deepEqual(by.get("queue.open")?.schedule, { kind: "once", at: 3 });
  assert.deepEqual(by.get("lookup.recipients")?.actions, [
    { action: "tempfail", weight: 3 },
    { action: "garbage", weight: 1 },
  ]);
  assert.deepEqual(by.get("lookup.recipients")?.latency, { dist: "uniform", min: 10, max: 50 });
  const ln = by.get("lookup.domains")?.latency;
  assert.equal(ln?.dist, "lognormal");
  assert.ok(ln?.dist === "lognormal" && Math.abs(ln.mu - Math.log(20)) < 1e-9 && ln.max === 2000);
  assert.deepEqual(by.get("pause.queue")?.duration, { dist: "exponential", mean: 1000, max: null });
  assert.equal(by.get("pause.queue")?.intervalMs, 5000);
  assert.deepEqual(by.get("net.stall")?.actions, [{ action: "stall", weight: 1 }]);
});

test("validation names the field path of every problem", () => {
  const issues = issuesOf({
    seed: 1.5,
    windows: { clean: "soon" },
    points: {
      "queue.write": { probability: 1.5 },
      "queue.open": { always: true, errno: "ECONNREFUSED" },
      "lookup.users": { every: 0, action: "explode" },
      "bogus.point": { always: true },
      "pause.queue": { always: true },
      "net.throttle": { always: true },
      "queue.fsync": { always: true, once: true, colour: "red" },
      "lookup.x": { always: true, latency: { dist: "uniform", min: "50ms", max: "10ms" } },
    },
  });
  const has = (prefix: string, word: string): void =>
    assert.ok(issues.some((i) => i.startsWith(prefix) && i.includes(word)), `expected an issue at ${prefix} mentioning ${word}; got:\n${issues.join("\n")}`);
  has("seed", "integer or a string");
  has("windows.clean", "duration");
  has('points["queue.write"].probability', "[0, 1]");
  has('points["queue.open"].errno', "open does not return ECONNREFUSED");
  has('points["lookup.users"].every', ">= 1");
  has('points["lookup.users"].action', "tempfail");
  has('points["bogus.point"]', "unknown fault point");
  has('points["pause.queue"].duration', "required");
  has('points["net.throttle"].bytesPerSec', "required");
  has('points["queue.fsync"]', "more than one schedule");
  has('points["queue.fsync"].colour', "unknown field");
  has('points["lookup.x"].latency.max', ">= min");
});

test("any errno the call can return is accepted; transient is a property the plan's description shows", () => {
  const plan = validatePlan({ points: { "queue.write": { always: true, errno: "EFBIG" }, "sys.relay.connect": { always: true, action: "error", errno: "ECONNREFUSED" }, "queue.fsync": { always: true, errno: 28 } } });
  const by = new Map(plan.points.map((p) => [p.name, p]));
  assert.equal(by.get("queue.write")?.errno, 27);
  assert.equal(by.get("sys.relay.connect")?.errno, 111);
  assert.match(describeSpec(by.get("queue.write") as FaultSpec), /EFBIG, not transient/);
  assert.match(describeSpec(by.get("sys.relay.connect") as FaultSpec), /ECONNREFUSED\)/, "ECONNREFUSED is transient: nothing added");
  assert.match(describeSpec(by.get("queue.fsync") as FaultSpec), /ENOSPC\)/);
  // unsafeErrno is still read (old plans), and no longer needed
  assert.equal(validatePlan({ points: { "queue.write": { always: true, errno: "EFBIG", unsafeErrno: true } } }).points[0]?.errno, 27);
  assert.throws(() => validatePlan({ points: { "sys.queue.fsync": { always: true, action: "error", errno: "ECONNREFUSED" } } }), /fsync does not return ECONNREFUSED/);
  assert.throws(() => validatePlan({ points: { "queue.write": { always: true, errno: "ENOTANERRNO" } } }), /unknown errno/);
});

test("kill and pause take a scope: one process of the role (the default) or all; other points refuse it", () => {
  const plan = validatePlan({ points: { "kill.queue": { probability: 0.5 }, "pause.smtpd": { always: true, duration: "1s", scope: "all" } } });
  const by = new Map(plan.points.map((p) => [p.name, p]));
  assert.equal(by.get("kill.queue")?.scope, "one");
  assert.equal(by.get("pause.smtpd")?.scope, "all");
  assert.match(describeSpec(by.get("pause.smtpd") as FaultSpec), /every process of the role/);
  assert.throws(() => validatePlan({ points: { "kill.queue": { always: true, scope: "some" } } }), /scope: must be "one"/);
  assert.throws(() => validatePlan({ points: { "queue.write": { always: true, scope: "all" } } }), /take a scope/);
});

test("--fault flags build the same plan as a file", () => {
  assert.deepEqual(parseFaultFlag("lookup.recipients:every=3,action=tempfail,latency=uniform(10ms,50ms)"), [
    "lookup.recipients",
    { every: 3, action: "tempfail", latency: "uniform(10ms,50ms)" },
  ]);
  const fromFlags = validatePlan(
    planDocFromFlags({ faults: ["queue.write:probability=0.25,errno=ENOSPC,after=data", "lookup.r:always,actions.tempfail=2,actions.exit=1"], seed: "7", faultsWindow: "10s" }),
  );
  const fromFile = parsePlanText(`{"seed": 7, "windows": {"faults": "10s"}, "points": {
    "queue.write": {"probability": 0.25, "errno": "ENOSPC", "after": "data"},
    "lookup.r": {"always": true, "actions": {"tempfail": 2, "exit": 1}}}}`);
  assert.deepEqual(fromFlags, fromFile);
});

test("a plan that does not parse says so", () => {
  assert.throws(() => parsePlanText("points: [unclosed"), (e: unknown) => e instanceof PlanError && e.issues[0]?.path === "(file)");
});

test("a plan's seed: negative integers are the seeds they stand for modulo 2^32, as on the command line", () => {
  assert.equal(validatePlan({ seed: -5, points: {} }).seed, 4294967291);
  assert.equal(validatePlan({ seed: "0x10", points: {} }).seed, 16);
  assert.equal(validatePlan({ seed: "nightly", points: {} }).seed, parseSeed("nightly"));
});

const PLAN: FaultPlan = validatePlan({
  points: {
    "queue.write": { probability: 0.3, latency: "exp(20ms)" },
    "lookup.recipients": { probability: 0.5, actions: { tempfail: 1, garbage: 1, exit: 1 }, latency: "lognormal(20ms, 1)" },
    "queue.fsync": { every: 3 },
  },
});

test("property: same seed and same per-point call sequence -> same decisions, whatever the interleaving", () => {
  fc.assert(
    fc.property(fc.nat(), fc.array(fc.constantFrom("queue.write", "lookup.recipients", "queue.fsync"), { maxLength: 200 }), (seed, order) => {
      const a = new Injector({ plan: PLAN, seed, clock: () => 0 });
      const b = new Injector({ plan: PLAN, seed, clock: () => 0 });
      const seqA = new Map<string, unknown[]>();
      for (const p of order) seqA.set(p, [...(seqA.get(p) ?? []), a.decide(p)]);
      // b sees the same per-point calls, grouped by point instead of interleaved
      for (const p of ["queue.fsync", "lookup.recipients", "queue.write"]) {
        const n = order.filter((x) => x === p).length;
        const got = Array.from({ length: n }, () => b.decide(p));
        assert.deepEqual(got, seqA.get(p) ?? []);
      }
    }),
    { numRuns: 200 },
  );
});

test("property: different seeds give different probability streams", () => {
  fc.assert(
    fc.property(fc.nat(), fc.nat(), (s1, s2) => {
      fc.pre(s1 !== s2);
      const a = new Injector({ plan: PLAN, seed: s1 }).preview("lookup.recipients", 64).map((d) => d?.action ?? "-");
      const b = new Injector({ plan: PLAN, seed: s2 }).preview("lookup.recipients", 64).map((d) => d?.action ?? "-");
      return a.join() !== b.join();
    }),
    { numRuns: 100 },
  );
});

test("property: the stream is uniform enough that p is respected", () => {
  fc.assert(
    fc.property(fc.nat(), fc.double({ min: 0.05, max: 0.95, noNaN: true }), (seed, p) => {
      const s = new Stream(seed, "queue.write");
      let hits = 0;
      const n = 4000;
      for (let i = 1; i <= n; i++) if (s.uniform(i) < p) hits++;
      return Math.abs(hits / n - p) < 0.05;
    }),
    { numRuns: 50 },
  );
});

test("schedules: every, once, limit, phase, windows", () => {
  let now = 0;
  const plan = validatePlan({
    windows: { clean: "1s", faults: "10s", heal: "1s" },
    points: {
      "queue.fsync": { every: { n: 3, offset: 2 } },
      "queue.open": { once: 2 },
      "queue.write": { always: true, limit: 2, after: "data" },
      "lookup.t": { always: true, window: { from: "2s", until: "3s" } },
    },
  });
  const inj = new Injector({ plan, seed: 1, clock: () => now, startedAt: 0 });
  assert.equal(inj.window(), "clean");
  assert.equal(inj.decide("queue.open"), null, "nothing fires in the clean window");
  now = 1000;
  assert.equal(inj.window(), "faults");
  const fsync = Array.from({ length: 9 }, () => inj.decide("queue.fsync") !== null);
  assert.deepEqual(fsync, [false, true, false, false, true, false, false, true, false]);
  assert.deepEqual(Array.from({ length: 4 }, () => inj.decide("queue.open") !== null), [false, true, false, false]);
  assert.equal(inj.decide("queue.write", { phase: "rcpt" }), null, "before DATA is not eligible");
  assert.equal(inj.decide("queue.write", { phase: "body" })?.errno, 5);
  assert.notEqual(inj.decide("queue.write", { phase: "dot" }), null);
  assert.equal(inj.decide("queue.write", { phase: "dot" }), null, "limit reached");
  assert.equal(inj.decide("lookup.t"), null, "before the point's window");
  now = 3500;
  assert.equal(inj.decide("lookup.t")?.action, "tempfail");
  now = 4500;
  assert.equal(inj.decide("lookup.t"), null, "after the point's window");
  now = 11500;
  assert.equal(inj.window(), "heal");
  assert.equal(inj.decide("queue.fsync"), null, "nothing fires while healing");
  now = 12500;
  assert.equal(inj.window(), "done");
  const st = inj.stats().find((s) => s.point === "queue.write");
  assert.deepEqual(st && { calls: st.calls, fired: st.fired }, { calls: 4, fired: 2 });
  assert.equal(inj.firedBetween(0, 5000).length, 3 + 1 + 2 + 1);
});

test("latency samples stay within their distribution's bounds", () => {
  const plan = validatePlan({ points: { "lookup.a": { always: true, latency: "uniform(10ms,50ms)" }, "lookup.b": { always: true, latency: { dist: "exponential", mean: "100ms", max: "150ms" } } } });
  const inj = new Injector({ plan, seed: 9 });
  for (const d of inj.preview("lookup.a", 500)) assert.ok(d !== null && d.delayMs >= 10 && d.delayMs <= 50);
  for (const d of inj.preview("lookup.b", 500)) assert.ok(d !== null && d.delayMs >= 0 && d.delayMs <= 150);
});

test("windows of a run: an open faults window ends where heal must start; a closed one that ends early leaves an idle tail", () => {
  const open = fitWindows(validatePlan({ windows: { clean: "2s", heal: "5s" }, points: { alloc: { always: true } } }), 15_000);
  assert.deepEqual(open.plan.windows, { cleanMs: 2000, faultsMs: 8000, healMs: 5000 });
  assert.equal(open.idleTailMs, 0);
  const inj = new Injector({ plan: open.plan, seed: 1, clock: () => 0 });
  assert.deepEqual([1000, 2000, 9999, 10_000, 14_999, 15_000].map((t) => inj.window(t)), ["clean", "faults", "faults", "heal", "heal", "done"]);
  const closed = fitWindows(validatePlan({ windows: { clean: "2s", faults: "40s", heal: "5s" }, points: { alloc: { always: true } } }), 300_000);
  assert.deepEqual(closed.plan.windows, { cleanMs: 2000, faultsMs: 40_000, healMs: 5000 });
  assert.equal(closed.idleTailMs, 253_000);
  const none = fitWindows(validatePlan({ points: { alloc: { always: true } } }), 60_000);
  assert.deepEqual(none.plan.windows, { cleanMs: 0, faultsMs: 60_000, healMs: 0 });
  // windows that do not fit the run would inject nothing and pass: refused
  assert.throws(() => fitWindows(validatePlan({ windows: { clean: "10s", heal: "20s" }, points: { alloc: { always: true } } }), 15_000), (e: unknown) => e instanceof WindowsError && /15s duration leaves no time for faults after clean 10s and heal 20s/.test(e.message));
  assert.throws(() => fitWindows(validatePlan({ windows: { clean: "5s", heal: "5s" }, points: {} }), 10_000), WindowsError, "a faults window of exactly 0 ms");
  assert.throws(() => fitWindows(validatePlan({ windows: { clean: "2s", faults: "10s", heal: "1s" }, points: {} }), 12_000), /clean 2s \+ faults 10s \+ heal 1s = 13s do not fit the run's 12s duration/);
  assert.equal(fitWindows(validatePlan({ windows: { clean: "2s", faults: "10s", heal: "1s" }, points: {} }), 13_000).idleTailMs, 0, "windows that exactly fill the run fit");
});
