// How plan points become libfiu commands, and which plans libfiu cannot carry out (no MTA needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { validatePlan } from "../../monkey/plan.js";
import { FiuError, fiuCommands, fiuDisableCommands } from "../../monkey/real/libfiu.js";
import { POSTFIX_FIU_SCOPE } from "../../targets/postfix/target.js";

const spec = (name: string, settings: Record<string, unknown>) => {
  const s = validatePlan({ points: { [name]: settings } }).points[0];
  assert.ok(s !== undefined);
  return s;
};

test("schedules map to enable_random, enable and onetime, with the errno pinned", () => {
  assert.deepEqual(fiuCommands(spec("queue.open", { probability: 0.05, errno: "ENOSPC" })), ["enable_random name=posix/io/oc/open,failnum=1,failinfo=28,probability=0.05"]);
  assert.deepEqual(fiuCommands(spec("queue.open", { always: true })), ["enable name=posix/io/oc/open,failnum=1,failinfo=5"]);
  assert.deepEqual(fiuCommands(spec("alloc", { once: true })), ["enable name=libc/mm/*,failnum=1,failinfo=5,onetime"]);
  const write = fiuCommands(spec("queue.write", { always: true }));
  assert.ok(write.length > 1 && write.every((c) => c.includes("failinfo=5")), write.join("\n"));
  assert.ok(!write.some((c) => c.includes("writev")), "writev is the MTAs' IPC, not their queue");
});

test("Postfix's call-stack scope turns commands into enable_stack_by_name", () => {
  assert.deepEqual(fiuCommands(spec("queue.open", { once: true }), POSTFIX_FIU_SCOPE), [
    "enable_stack_by_name name=posix/io/oc/open,failnum=1,failinfo=5,onetime,func_name=mail_queue_enter,pos_in_stack=-1",
  ]);
});

test("settings libfiu cannot follow are refused, naming the point and the reason", () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["queue.open", { every: 3 }, /queue\.open: every 3 cannot be done by libfiu/],
    ["queue.open", { once: 2 }, /queue\.open: once at call 2/],
    ["queue.fsync", { always: true, limit: 2 }, /queue\.fsync: limit 2/],
    ["queue.write", { always: true, action: "delay", latency: "1s" }, /queue\.write: action delay/],
    ["queue.open", { always: true, after: "data" }, /SMTP phase condition \(after data\)/],
  ];
  for (const [name, settings, re] of cases) assert.throws(() => fiuCommands(spec(name, settings)), (err: unknown) => err instanceof FiuError && re.test(err.message) && err.point === name);
  assert.throws(() => fiuCommands(spec("queue.open", { probability: 0.1 }), POSTFIX_FIU_SCOPE), /probability together with the call-stack scope/);
  assert.throws(() => fiuCommands(spec("lookup.recipients", { always: true })), /not a libfiu point/);
});

test("disable commands undo what was enabled, once per libfiu point", () => {
  const cmds = [...fiuCommands(spec("queue.open", { always: true })), ...fiuCommands(spec("queue.open", { once: true }))];
  assert.deepEqual(fiuDisableCommands(cmds), ["disable name=posix/io/oc/open"]);
});
