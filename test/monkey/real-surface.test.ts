// RealFaultSurface without an MTA: libfiu cannot see the injector's windows, so the surface
// switches the libfiu commands on and off itself; unsupported settings are refused before
// anything changes. The channel here records what would be sent to the MTA.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { Injector } from "../../monkey/injector.js";
import { validatePlan } from "../../monkey/plan.js";
import { RealFaultSurface, type FiuChannel } from "../../monkey/real/surface.js";
import { FIU_POINTS } from "../../monkey/real/libfiu.js";
import type { Target } from "../../targets/target.js";

class RecordingChannel implements FiuChannel {
  readonly scope = {};
  readonly points = FIU_POINTS;
  readonly logged = [];
  readonly sets: Array<{ at: number; commands: string[] }> = [];
  async set(commands: string[]): Promise<void> {
    this.sets.push({ at: Date.now(), commands });
  }
}

function fakeTarget(): Target & { log: (line: string) => void } {
  const logs = new EventEmitter();
  return {
    name: "fake",
    domain: "test.example",
    mailboxes: [],
    endpoint: { host: "127.0.0.1", port: 1 },
    start: async () => {},
    stop: async () => {},
    restart: async () => {},
    status: async () => ({ running: true, pid: null, endpoint: null, banner: null, crash: null }),
    logs: () => [],
    onLog: (l: (line: string) => void) => {
      logs.on("line", l);
      return () => logs.off("line", l);
    },
    crash: () => null,
    onCrash: () => () => {},
    flushQueue: async () => {},
    queueSize: async () => 0,
    delivered: async () => [],
    processes: async () => [],
    log: (line: string) => logs.emit("line", line),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("libfiu follows the plan's windows: off while clean, on for the faults window, off after", async () => {
  const channel = new RecordingChannel();
  const surface = new RealFaultSurface({ target: fakeTarget(), fiu: channel, lookups: null, roles: ["queue"] });
  const plan = validatePlan({ windows: { clean: "150ms", faults: "200ms" }, points: { "queue.open": { always: true } } });
  const t0 = Date.now();
  await surface.apply(new Injector({ plan, seed: 1, startedAt: t0 }));
  await sleep(500);
  await surface.clear();
  const seen = channel.sets.map((s) => ({ ms: s.at - t0, on: s.commands.length > 0 }));
  assert.equal(seen[0]?.on, false, "clean window: nothing enabled");
  const on = seen.find((s) => s.on);
  assert.ok(on !== undefined && on.ms >= 140, `enabled when the faults window opens: ${JSON.stringify(seen)}`);
  const offAfter = seen.find((s) => !s.on && s.ms > (on?.ms ?? 0));
  assert.ok(offAfter !== undefined && offAfter.ms >= 340, `disabled when it closes: ${JSON.stringify(seen)}`);
});

test("an unsupported libfiu setting is refused before anything is changed", async () => {
  const channel = new RecordingChannel();
  const surface = new RealFaultSurface({ target: fakeTarget(), fiu: channel, lookups: null, roles: ["queue"] });
  const plan = validatePlan({ points: { "queue.open": { every: 2 } } });
  await assert.rejects(surface.apply(new Injector({ plan, seed: 1 })), /queue\.open: every 2 cannot be done by libfiu/);
  assert.deepEqual(channel.sets, []);
  assert.ok(surface.points().includes("queue.open") && surface.points().includes("kill.queue") && !surface.points().includes("lookup.recipients"));
});

test("fired libfiu faults are counted from the errors the MTA logs", async () => {
  const target = fakeTarget();
  const surface = new RealFaultSurface({ target, fiu: new RecordingChannel(), lookups: null, roles: [] });
  await surface.apply(new Injector({ plan: validatePlan({ points: { "queue.open": { always: true }, "queue.dir": { always: true } } }), seed: 1 }));
  target.log("warn: queue-fs: open: Input/output error");
  target.log("warn: queue-fs: rename: Input/output error");
  target.log("warn: queue-fs: open: No space left on device");
  target.log("smtp connected");
  assert.deepEqual([...(await surface.drainFired())], [["queue.open", 1], ["queue.dir", 1]]);
  assert.equal((await surface.drainFired()).size, 0, "drained");
  await surface.close();
});
