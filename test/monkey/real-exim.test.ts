// The monkey against Exim, a target the toolkit knows only from its target file
// (targets/files/exim.target.yaml): a clean run reconciles exactly across the restart, and its
// lookup and process fault families fire, are attributed, and stay graceful. Needs root and
// `npm run setup:mtas` (a missing Exim fails in CI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runMonkey, type MonkeyRunOptions } from "../../monkey/run.js";
import { validatePlan } from "../../monkey/plan.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { monkeyText } from "../../monkey/report.js";
import { mtaAvailability, requireMta } from "../targets/helpers.js";
import { assertCleanRun } from "./real-helpers.js";

const { why, skip } = mtaAvailability("exim", "/opt/smtpchaos/exim/usr/sbin/exim4");
const base = { seed: 3, concurrency: 2, durationMs: 5000, timeoutMs: 10_000, drainTimeoutMs: 30_000, createTarget: (extra) => monkeyTarget("exim", extra) } satisfies Partial<MonkeyRunOptions>;

test("exim + monkey: a clean run has no finding, and every accepted message is delivered once, across the restart", { skip }, async () => {
  requireMta("exim", why);
  await assertCleanRun(base);
});

test("exim + monkey: lookup failures over ${readsocket} are 4xx at RCPT, its daemon paused and its receivers killed (their own sessions excused): graceful, nothing lost", { skip }, async () => {
  requireMta("exim", why);
  const plan = validatePlan({
    points: {
      "lookup.recipients": { every: 4 },
      "lookup.domains": { every: 9, action: "timeout" },
      "pause.daemon": { probability: 1, interval: "1500ms", duration: "400ms" },
      // one receiver (a fork per connection) at a time: the session it served was cut by us, not by Exim
      "kill.receiver": { probability: 1, interval: "700ms" },
    },
  });
  const r = await runMonkey({ ...base, plan });
  // A receiver (which also delivers) killed between writing the Maildir file and recording the delivery is
  // run again, and the message arrives twice: at-least-once delivery across a crash (RFC 5321
  // 6.1), which depends on where the kill lands. That may be the only finding; nothing else.
  const l = r.ledgerAfterRestart;
  const onlyRedelivery = r.findingCount === 1 && (l?.duplicates ?? 0) > 0 && Object.keys(r.findings).length === 0 && r.crash === null;
  assert.ok(r.verdict === "pass" || onlyRedelivery, monkeyText(r));
  const fired = Object.fromEntries(r.points.map((p) => [p.point, p.fired]));
  for (const p of ["lookup.recipients", "lookup.domains", "pause.daemon"]) assert.ok((fired[p] ?? 0) > 0, `${p} fired: ${JSON.stringify(fired)}`);
  const kill = r.reach.find((x) => x.point === "kill.receiver");
  assert.ok(kill?.reached === true && (kill.processes ?? 0) > 0, `receivers were killed: ${JSON.stringify(kill)}`);
  assert.ok(r.excused > 0, `the sessions whose receiver was killed are excused, not findings: ${monkeyText(r)}`);
  assert.ok(r.outcomes.tempfail > 0, "lookup failures were answered with 4xx");
  assert.ok((r.perFault["lookup.recipients"]?.tempfail ?? 0) > 0, "and attributed to the lookup point");
  assert.equal(r.outcomes.permfail, 0);
  assert.equal(r.ledgerAfterRestart?.lost, 0);
});

test("exim + monkey: libfiu in its daemon reaches the receivers' spool writes: fsync and rename failures are 451 after the dot, nothing refused is delivered", { skip }, async () => {
  requireMta("exim", why);
  const plan = validatePlan({ points: { "queue.fsync": { probability: 0.2 }, "queue.rename": { probability: 0.3 } } });
  const r = await runMonkey({ ...base, plan });
  assert.equal(r.verdict, "pass", monkeyText(r));
  assert.ok((r.inTargetFired["queue.fsync"] ?? 0) > 0, `queue.fsync fired (counted from Exim's log): ${JSON.stringify(r.inTargetFired)}`);
  assert.ok(r.outcomes.tempfail > 0, "spool failures were answered with 4xx");
  assert.equal(r.outcomes.permfail, 0);
  assert.equal(r.ledgerAfterRestart?.lost, 0);
  assert.equal(r.ledgerAfterRestart?.deliveredAfterReject, 0);
});
