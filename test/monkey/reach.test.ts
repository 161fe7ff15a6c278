// Reach accounting: which planned points really fired, and why the others did not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pointReach, unreached } from "../../monkey/reach.js";
import { validatePlan } from "../../monkey/plan.js";
import { mechanismsFor } from "../../monkey/targets.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { declaredFaultPoints } from "../../smtpscript/fault-points.js";
import { loadProgram } from "../../smtpscript/parse.js";

test("reach: the injector's counters, or what the mechanism says, with a reason for each point that never fired", () => {
  const plan = validatePlan({
    points: {
      "queue.write": { probability: 0.1 },
      "queue.open": { always: true, after: "quit" },
      "lookup.users": { always: true },
      "queue.dir": { probability: 0.5, errno: "EIO" },
      "sys.queue.fsync": { always: true, action: "error" },
      "kill.pony": { always: true },
    },
  });
  const stats = [
    { point: "queue.write", calls: 50, eligible: 50, fired: 4, byAction: {} },
    { point: "queue.open", calls: 20, eligible: 0, fired: 0, byAction: {} },
    { point: "lookup.users", calls: 0, eligible: 0, fired: 0, byAction: {} },
    { point: "queue.dir", calls: 0, eligible: 0, fired: 0, byAction: {} },
    { point: "sys.queue.fsync", calls: 0, eligible: 0, fired: 0, byAction: {} },
    { point: "kill.pony", calls: 3, eligible: 3, fired: 3, byAction: {} },
  ];
  const rows = pointReach(plan.points, stats, [
    { "queue.dir": { mechanism: "libfiu", fired: 7, estimate: true } },
    { "sys.queue.fsync": { mechanism: "seccomp", fired: 0, seen: 0, eligible: 0, processes: 0, reason: "no process of role queue called fsync" } },
    { "kill.pony": { mechanism: "signals", processes: 0, reason: "no process of role pony was there when it fired" } },
  ]);
  const by = new Map(rows.map((r) => [r.point, r]));
  assert.equal(by.get("queue.write")?.reached, true);
  assert.match(by.get("queue.open")?.reason ?? "", /20 call\(s\), none eligible \(after quit\)/);
  assert.match(by.get("lookup.users")?.reason ?? "", /never reached/);
  assert.deepEqual([by.get("queue.dir")?.reached, by.get("queue.dir")?.estimate, by.get("queue.dir")?.fired], [true, true, 7], "libfiu's count is the log's estimate");
  assert.equal(by.get("sys.queue.fsync")?.reason, "no process of role queue called fsync");
  assert.equal(by.get("kill.pony")?.reached, false, "decided 3 times, but no process was signalled");
  assert.deepEqual(unreached(rows).map((r) => r.point), ["queue.open", "lookup.users", "sys.queue.fsync", "kill.pony"]);
});

test("only the mechanisms the points need are attached to the MTA", () => {
  assert.deepEqual(mechanismsFor([]), { libfiu: false, syscalls: [] }, "a clean run attaches nothing");
  assert.deepEqual(mechanismsFor(["net.reset", "kill.queue", "lookup.users"]), { libfiu: false, syscalls: [] });
  assert.deepEqual(mechanismsFor(["queue.fsync"]), { libfiu: true, syscalls: [] });
  assert.deepEqual(mechanismsFor(["queue.*", "deliver.*"]), { libfiu: true, syscalls: [] }, "a glob names its layer's points");
  assert.deepEqual(mechanismsFor(["sys.queue.fsync", "sys.cleanup.write", "sys.*.rename"]), { libfiu: false, syscalls: ["fsync", "write", "rename"] });
  assert.ok(mechanismsFor(["sys.*"]).syscalls.includes("connect"));
  assert.equal(mechanismsFor(["*"]).libfiu, true);
});

test("a script declares the points it may fire: monkey fail/delay statements and requires fault", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-declared-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "s.smtp");
  writeFileSync(file, ["test-case name \"a\" requires fault queue.write {", "  monkey fail sys.queue.fsync once", "  repeat 2 {", "    monkey delay lookup.users 1s", "  }", "  monkey clear", "}", ""].join("\n"));
  assert.deepEqual(declaredFaultPoints([loadProgram(file)]).sort(), ["lookup.users", "queue.write", "sys.queue.fsync"]);
});
