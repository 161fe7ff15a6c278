// The monkey must catch each buggy fixture MTA, and must not flag the correct one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Flood } from "../../monkey/flood.js";
import { Injector } from "../../monkey/injector.js";
import { Ledger } from "../../monkey/ledger.js";
import { validatePlan } from "../../monkey/plan.js";
import { startFixtureMta, type FixtureBug } from "./fixtures/mta.js";

async function monkeyAgainst(bug: FixtureBug, t: { after: (fn: () => Promise<void>) => void }) {
  const plan = validatePlan({ points: { "queue.write": { every: 4 } } });
  const injector = new Injector({ plan, seed: 5 });
  const mta = await startFixtureMta({ bug, injector, loseEvery: 5 });
  t.after(() => mta.stop());
  const ledger = new Ledger("fx");
  // The fixture reports its fault decisions through the shared injector, so attribution is exact
  // per time window; with concurrency 1 sessions do not overlap.
  const flood = new Flood({
    host: "127.0.0.1",
    port: mta.port,
    mailboxes: ["user@test.example"],
    ledger,
    seed: 11,
    concurrency: 1,
    durationMs: 20_000,
    maxSessions: 24,
    timeoutMs: 3000,
    faultsDuring: (from, to) => ({ faults: injector.firedBetween(from, to).map((f) => f.point) }),
  });
  const res = await flood.run();
  const report = ledger.reconcile({ delivered: mta.delivered, queueSize: mta.queue.length });
  return { res, report, injector };
}

test("fixture: a correct MTA answering 451 to queue faults has no findings", async (t) => {
  const { res, report } = await monkeyAgainst("none", t);
  assert.equal(res.sessions, 24);
  assert.equal(res.tally.total.tempfail, 6, "every 4th write fails -> 6 graceful deferrals");
  assert.equal(res.tally.total.ok, 18);
  assert.equal(res.tally.findingCount(), 0, JSON.stringify(res.tally.samples, null, 1));
  assert.equal(report.findings, false);
  assert.equal(report.accepted, 18);
  assert.equal(report.deliveredDistinct, 18);
});

test("fixture: an MTA that loses accepted mail is caught by the ledger", async (t) => {
  const { report, res } = await monkeyAgainst("lose", t);
  assert.equal(res.tally.findingCount(), 0, "the client sees nothing wrong");
  assert.equal(report.accepted, 18);
  assert.equal(report.lost, 3, "every 5th of 18 accepted messages vanished");
  assert.equal(report.samples.lost.length, 3);
  assert.equal(report.findings, true);
});

test("fixture: an MTA answering 5xx to a transient fault is caught by the oracle", async (t) => {
  const { res, report } = await monkeyAgainst("permfail-on-fault", t);
  assert.equal(res.tally.findings["permfail-under-fault"], 6);
  assert.equal(res.tally.perFault.get("queue.write")?.permfail, 6);
  const sample = res.tally.samples.find((s) => s.finding === "permfail-under-fault");
  assert.ok(sample !== undefined);
  assert.deepEqual(sample.faults, ["queue.write"]);
  assert.match(sample.detail, /554/);
  assert.match(sample.transcript ?? "", /<<< 554/);
  assert.equal(report.lost, 0);
});

test("fixture: an MTA closing without a 421 is caught as ungraceful, and the dot result is ambiguous", async (t) => {
  const { res, report } = await monkeyAgainst("close-on-fault", t);
  const closes = (res.tally.findings["close-without-reply"] ?? 0) + (res.tally.findings["reset-without-reply"] ?? 0);
  assert.equal(closes, 6);
  assert.equal(res.tally.total.ungraceful, 6);
  assert.equal(report.ambiguous, 6);
  assert.equal(report.lost, 0);
});

test("fixture: an MTA delivering twice under a fault is caught as duplicates", async (t) => {
  const { report } = await monkeyAgainst("duplicate-on-fault", t);
  assert.equal(report.duplicates, 6);
  assert.equal(report.findings, true);
});
