// The monkey against Sendmail, a target the toolkit knows only from its target file
// (targets/files/sendmail.target.yaml), whose log reaches it only through syslog: a clean run
// reconciles exactly across the restart; its lookup and process fault families fire, are
// attributed and stay graceful; libfiu in its daemon reaches the receivers' queue writes. Needs
// root and `npm run setup:mtas` (a missing Sendmail fails in CI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runMonkey, type MonkeyRunOptions } from "../../monkey/run.js";
import { validatePlan } from "../../monkey/plan.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { monkeyText } from "../../monkey/report.js";
import { mtaAvailability, requireMta } from "../targets/helpers.js";
import { assertCleanRun } from "./real-helpers.js";

const { why, skip } = mtaAvailability("sendmail", "/opt/smtpchaos/sendmail/usr/libexec/sendmail/sendmail");
const base = { seed: 3, concurrency: 2, durationMs: 5000, timeoutMs: 10_000, drainTimeoutMs: 30_000, createTarget: (extra) => monkeyTarget("sendmail", extra) } satisfies Partial<MonkeyRunOptions>;

test("sendmail + monkey: a clean run has no finding, and every accepted message is delivered once, across the restart", { skip }, async () => {
  requireMta("sendmail", why);
  await assertCleanRun(base);
});

test("sendmail + monkey: lookup failures over its socket maps are 4xx at RCPT, its queue runners paused and its receivers killed (their own sessions excused): graceful, nothing lost", { skip }, async () => {
  requireMta("sendmail", why);
  const plan = validatePlan({
    points: {
      "lookup.recipients": { every: 4 },
      "lookup.domains": { every: 9, action: "timeout" },
      "pause.queue-runner": { probability: 1, interval: "1500ms", duration: "400ms" },
      // one receiver (a fork per connection) at a time: the session it served was cut by us, not by sendmail
      "kill.receiver": { probability: 1, interval: "700ms" },
    },
  });
  const r = await runMonkey({ ...base, plan });
  assert.equal(r.verdict, "pass", monkeyText(r));
  const fired = Object.fromEntries(r.points.map((p) => [p.point, p.fired]));
  for (const p of ["lookup.recipients", "lookup.domains", "pause.queue-runner"]) assert.ok((fired[p] ?? 0) > 0, `${p} fired: ${JSON.stringify(fired)}`);
  const kill = r.reach.find((x) => x.point === "kill.receiver");
  assert.ok(kill?.reached === true && (kill.processes ?? 0) > 0, `receivers were killed: ${JSON.stringify(kill)}`);
  assert.ok(r.excused > 0, `the sessions whose receiver was killed are excused, not findings: ${monkeyText(r)}`);
  assert.ok((r.perFault["lookup.recipients"]?.tempfail ?? 0) > 0, "lookup failures were answered with 4xx, attributed to the lookup point");
  assert.equal(r.outcomes.permfail, 0);
  assert.equal(r.ledgerAfterRestart?.lost, 0);
});

// What sendmail does when fsync fails in a receiver: on the data file (df) it answers "421 4.3.0
// collect: Cannot write ./df... (fsync, ...)"; on the control file (qf) it logs "SYSERR(root):
// Error writing control file" and the session ends without a reply, while the message stays
// queued and is delivered: the only findings allowed are those closes, their messages delivered
// although the client never saw them acknowledged.
test("sendmail + monkey: libfiu in its daemon reaches the receivers' fsyncs: 421 after the dot, or a close without reply whose message is delivered; nothing lost", { skip }, async () => {
  requireMta("sendmail", why);
  const plan = validatePlan({ points: { "queue.fsync": { probability: 0.2 } } });
  const r = await runMonkey({ ...base, plan });
  assert.ok((r.inTargetFired["queue.fsync"] ?? 0) > 0, `queue.fsync fired (counted from sendmail's syslog): ${JSON.stringify(r.inTargetFired)}`);
  assert.ok(r.outcomes.tempfail > 0, `fsync failures were answered with 4xx: ${monkeyText(r)}`);
  assert.equal(r.outcomes.permfail, 0);
  assert.deepEqual(Object.keys(r.findings).filter((k) => k !== "close-without-reply"), [], monkeyText(r));
  const l = r.ledgerAfterRestart;
  assert.ok(l !== null, monkeyText(r));
  assert.equal(l.lost, 0, monkeyText(r));
  assert.equal(l.deliveredAfterReject, 0, monkeyText(r));
  // a close can leave the message held by a queue run that sleeps on the tf file the dying
  // session left (README "Sendmail through its target file"): most, not always all, are delivered
  const closes = r.findings["close-without-reply"] ?? 0;
  assert.ok(l.deliveredAmbiguous <= closes && (closes === 0 || l.deliveredAmbiguous > 0), `messages whose session closed without a reply were delivered: ${monkeyText(r)}`);
});
