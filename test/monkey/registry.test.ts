// The fault layers' registry: plan validation, the oracle, the layers wired to a target, the
// statement interpreter and the runner all read it. A layer added with registerLayer (what one
// line in monkey/layers/registry.ts does for a shipped one) is planned, served, interpreted,
// excused and reported with no other change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { validatePlan } from "../../monkey/plan.js";
import { judge, type SessionRecord } from "../../monkey/oracle.js";
import { Injector } from "../../monkey/injector.js";
import { kindOf, layerUnits, pointPatterns, registerLayer, unitOf } from "../../monkey/layers/registry.js";
import { LayerSet, UnsupportedPointsError } from "../../monkey/layers/set.js";
import type { FaultLayerUnit, LayerInstance } from "../../monkey/layers/unit.js";
import { PlanController, StatementError } from "../../monkey/controller.js";
import { runMonkey } from "../../monkey/run.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { monkeyText } from "../../monkey/report.js";
import type { Target } from "../../targets/target.js";
import { issuesOf } from "./plan-issues.js";

test("every point family belongs to one layer, and the shipped layers are all there", () => {
  assert.deepEqual(layerUnits().map((u) => u.name).sort(), ["lookup", "net", "nexthop", "power", "process", "sys", "syscall"]);
  const families = layerUnits().flatMap((u) => u.kinds.map((k) => k.family));
  for (const f of ["queue", "alloc", "delivery", "lookup", "pause", "kill", "net", "nexthop", "power"]) assert.ok(families.includes(f), f);
  const names = layerUnits().flatMap((u) => u.kinds.flatMap((k) => k.patterns));
  assert.equal(new Set(names).size, names.length, "no pattern is declared twice");
  for (const [point, layer] of [["queue.write", "syscall"], ["alloc", "syscall"], ["relay.connect", "syscall"], ["lookup.recipients", "lookup"], ["pause.pony express", "process"], ["net.reset", "net"], ["nexthop.lose-250", "nexthop"], ["sys.pony express.write", "sys"], ["sys.queue.fsync", "sys"], ["power.cut", "power"]]) {
    assert.equal(unitOf(point as string)?.name, layer, point);
  }
  assert.equal(kindOf("bogus.point"), null);
});

test("plan validation reads the registry: an unknown point lists every layer's points, and the rules come from the kinds", () => {
  const [unknown] = issuesOf({ points: { "bogus.point": { always: true } } });
  for (const p of pointPatterns()) assert.ok(unknown?.includes(p), `${p} listed in: ${unknown}`);
  const issues = issuesOf({
    points: {
      "lookup.recipients": { always: true, errno: "EIO" },
      "net.reset": { always: true, action: "stall" },
      "kill.queue": { always: true, after: "data" },
      "queue.write": { always: true, interval: "1s", duration: "1s", bytesPerSec: 10 },
    },
  });
  const has = (prefix: string, word: RegExp): void => assert.ok(issues.some((i) => i.startsWith(prefix) && word.test(i)), `${prefix} ${word}:\n${issues.join("\n")}`);
  has('points["lookup.recipients"].errno', /only sys\.<role>\.<call>, queue\.<op>, alloc, deliver\.<op> and relay\.<op> points fail with an errno/);
  has('points["net.reset"].action', /names its action/);
  has('points["kill.queue"]', /time-driven/);
  has('points["queue.write"].interval', /only power\.cut, pause\.<role> and kill\.<role> points are time-driven/);
  has('points["queue.write"].duration', /only (pause\.<role> and net\.stall|net\.stall and pause\.<role>) take a duration/);
  has('points["queue.write"].bytesPerSec', /net\.throttle/);
});

test("the oracle excuses what a layer declares its faults cause on purpose, and nothing else", () => {
  const reset: SessionRecord = { startedAt: 0, endedAt: 1, messageId: "m", faults: [], steps: [{ step: "banner", reply: { code: 220, text: "hi" } }, { step: "dot", error: { kind: "disconnect", message: "reset", reset: true } }] };
  const hang: SessionRecord = { ...reset, steps: [{ step: "banner", reply: { code: 220, text: "hi" } }, { step: "dot", error: { kind: "timeout", message: "no reply" } }] };
  assert.equal(judge(reset).finding, "reset-without-reply");
  assert.equal(judge({ ...reset, faults: ["net.reset"] }).finding, null);
  assert.equal(judge({ ...reset, faults: ["net.stall"] }).finding, "reset-without-reply", "a stall excuses hangs, not resets");
  assert.equal(judge({ ...reset, faults: ["queue.write"] }).finding, "reset-without-reply");
  assert.equal(judge(hang).finding, "hang");
  assert.equal(judge({ ...hang, faults: ["net.latency"] }).finding, null);
  assert.equal(judge({ ...hang, faults: ["net.reset"] }).finding, "hang");
});

test("layers are attached as the plan (or serving) calls for, and charge their firings as they declare", () => {
  const plan = validatePlan({ points: { "net.reset": { always: true } } });
  const injector = new Injector({ plan, seed: 1 });
  assert.deepEqual(LayerSet.attach(injector, plan).names().sort(), ["net", "process"], "run: the plan's layers, and process (a plan change may add pause/kill)");
  assert.deepEqual(LayerSet.attach(injector, plan, { serving: true }).names().sort(), ["net", "nexthop", "process"]);
  assert.deepEqual(LayerSet.attach(injector, plan, { serving: true, unmanaged: true }).names(), ["net"], "a server the toolkit does not run: from outside only");
  const set = LayerSet.attach(injector, plan);
  const fired = [
    { at: 1, point: "net.reset", call: 1, action: "reset", conn: 5000 },
    { at: 1, point: "net.reset", call: 2, action: "reset", conn: 5001 },
    { at: 1, point: "queue.write", call: 1, action: "error", conn: 5000 },
    { at: 1, point: "lookup.recipients", call: 1, action: "tempfail" },
    { at: 1, point: "nexthop.defer", call: 1, action: "defer" },
  ];
  assert.deepEqual(set.chargedTo(fired, 5000), ["net.reset", "queue.write", "lookup.recipients"], "by connection, by time, and never the next hop's");
  assert.deepEqual(set.chargedTo(fired, undefined), ["net.reset", "net.reset", "queue.write", "lookup.recipients"]);
  const kill = { at: 1, point: "kill.smtpd", call: 1, action: "kill", until: 5, served: [5000, 5002] };
  assert.deepEqual(set.charge([kill], 5000), { faults: ["kill.smtpd"], selfInflicted: ["kill.smtpd"] }, "the kill cut off this very session");
  assert.deepEqual(set.charge([kill], 5001), { faults: ["kill.smtpd"], selfInflicted: [] }, "another session is charged to it by time, not excused");
});

test("a point no surface or layer offers is refused, with the layer's reason when it has one", async () => {
  const plan = validatePlan({ points: { "kill.queue": { always: true } } });
  const injector = new Injector({ plan, seed: 1 });
  const set = LayerSet.attach(injector, plan);
  assert.equal(set.unsupported(["kill.queue"], "t"), null, "before the target runs, its processes are not known yet");
  const target = { name: "t", processes: async () => [{ role: "smtpd", pid: 123456 }] } as unknown as Target;
  await set.start({ target, surface: null, endpoint: { host: "127.0.0.1", port: 1 } });
  assert.deepEqual(set.points(), ["pause.smtpd", "kill.smtpd"]);
  await assert.rejects(set.admit(plan, "t"), (err: unknown) => err instanceof UnsupportedPointsError && /no fault point kill\.queue; it offers pause\.smtpd, kill\.smtpd \(kill\.queue refused: t has no process with that role/.test(err.message));
  await set.stopBeforeTarget();
});

/** The sketch of a new layer: one unit, as a new file in monkey/layers/units/ would hold it. */
function tickLayer(): FaultLayerUnit & { instances: Tick[] } {
  const instances: Tick[] = [];
  return {
    name: "tick",
    summary: "a heartbeat that fires on a timer (test layer)",
    kinds: [{ family: "tick", patterns: ["tick.<name>"], match: /^tick\.[a-z]+$/, actions: ["beat", "skip"], timeDriven: true, excuses: ["hang"] }],
    charge: "none",
    // it needs nothing of the target
    unmanaged: true,
    instances,
    attach(ctx) {
      if (!ctx.planned && !ctx.serving) return null;
      const t = new Tick(ctx.injector);
      instances.push(t);
      return t;
    },
  };
}

class Tick implements LayerInstance {
  beats = 0;
  private timers: NodeJS.Timeout[] = [];
  constructor(private readonly injector: Injector) {}
  points(): string[] {
    return ["tick.heart"];
  }
  async start(): Promise<void> {}
  async follow(): Promise<void> {
    await this.stop();
    for (const s of this.injector.specs().filter((x) => x.family === "tick")) {
      this.timers.push(setInterval(() => (this.injector.decide(s.name)?.action === "beat" ? this.beats++ : 0), s.intervalMs ?? 1000));
    }
  }
  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }
  report(): { lines: string[] } {
    return { lines: [`tick: ${this.beats} beats`] };
  }
}

test("a new layer is one unit and one registration: planned, interpreted, excused and reported with no other change", async () => {
  const unit = tickLayer();
  registerLayer(unit);
  assert.throws(() => registerLayer(tickLayer()), /already registered/);

  // the plan knows its points, actions and rules
  const plan = validatePlan({ points: { "tick.heart": { always: true, interval: "20ms", actions: { beat: 3, skip: 1 } } } });
  assert.equal(plan.points[0]?.family, "tick");
  assert.ok(issuesOf({ points: { "tick.heart": { always: true, action: "explode" } } }).some((i) => /must be one of beat, skip for tick points/.test(i)));
  assert.ok(issuesOf({ points: { "nope.x": { always: true } } }).some((i) => i.includes("tick.<name>")));
  // the oracle excuses what it declares
  assert.equal(judge({ startedAt: 0, endedAt: 1, messageId: null, faults: ["tick.heart"], steps: [{ step: "banner", error: { kind: "timeout", message: "x" } }] }).finding, null);

  // the one statement interpreter, over the layers of a served target
  const injector = new Injector({ plan: validatePlan({ points: {} }), seed: 1 });
  const layers = LayerSet.attach(injector, injector.currentPlan(), { serving: true, unmanaged: true });
  assert.ok(layers.names().includes("tick"), "served: attached whatever the plan");
  const controller = new PlanController({ injector, surface: null, layers, target: "t" });
  await layers.start({ target: { name: "t" } as Target, surface: null, endpoint: { host: "127.0.0.1", port: 1 } });
  assert.ok(controller.points.includes("tick.heart"));
  await controller.apply(["fail", "tick.heart", "always"]);
  assert.deepEqual(controller.document().points["tick.heart"], { always: true });
  await assert.rejects(controller.apply(["fail", "tick.lungs", "once"]), (err: unknown) => err instanceof StatementError && /no fault point tick\.lungs/.test(err.message));
  await controller.clear();
  await layers.stopBeforeTarget();

  // and the runner: fired, not charged to sessions (charge "none"), reported
  const r = await runMonkey({ seed: 3, concurrency: 2, durationMs: 20_000, maxSessions: 20, timeoutMs: 2000, drainTimeoutMs: 5000, plan, createTarget: (extra) => monkeyTarget("embedded", extra) });
  const run = unit.instances[unit.instances.length - 1] as Tick;
  assert.ok(run.beats > 0, monkeyText(r));
  assert.ok((r.points.find((p) => p.point === "tick.heart")?.fired ?? 0) > 0);
  assert.equal(r.perFault["tick.heart"], undefined, "charged to no session");
  assert.match(monkeyText(r), new RegExp(`tick: ${run.beats} beats`));
  assert.equal(r.findingCount, 0, monkeyText(r));
});
