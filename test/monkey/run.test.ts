// `runMonkey` end to end: against the embedded target it must find nothing; against each buggy
// fixture it must find the planted bug, through the same runner the CLI uses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { nextHopOf } from "../../monkey/layers/units/nexthop.js";
import type { NextHopDetails } from "../../monkey/layers/units/nexthop.js";
import type { MonkeyReport } from "../../monkey/run.js";

/** the next hop's counts of a run that had one (asserted) */
const hop = (r: MonkeyReport): NextHopDetails => {
  const h = nextHopOf(r);
  assert.ok(h !== null, "the run had a next hop");
  return h;
};
import { runMonkey, UnsupportedPointsError } from "../../monkey/run.js";
import type { MonkeyRunOptions } from "../../monkey/run.js";
import { validatePlan } from "../../monkey/plan.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { monkeyText } from "../../monkey/report.js";
import { fixtureMonkeyTarget } from "./fixtures/target.js";
import { EmbeddedTarget } from "../../targets/embedded/target.js";
import { StatementError } from "../../monkey/statement.js";
import type { FixtureBug } from "./fixtures/mta.js";

const base = { seed: 42, concurrency: 2, durationMs: 20_000, timeoutMs: 2000, drainTimeoutMs: 10_000 } satisfies Partial<MonkeyRunOptions>;

function againstFixture(bug: FixtureBug, maxSessions = 24) {
  return runMonkey({ ...base, maxSessions, plan: validatePlan({ points: { "queue.write": { every: 4 } } }), createTarget: () => fixtureMonkeyTarget(bug) });
}

test("monkey run: the embedded target under queue, lookup, alloc and network faults has no findings", async () => {
  const plan = validatePlan({
    points: {
      "queue.write": { probability: 0.15 },
      "queue.fsync": { probability: 0.05, errno: "ENOSPC" },
      "lookup.recipients": { probability: 0.1 },
      alloc: { every: 7 },
      "net.reset": { probability: 0.05 },
    },
  });
  const r = await runMonkey({ ...base, plan, maxSessions: 120, createTarget: (extra) => monkeyTarget("embedded", extra) });
  assert.equal(r.sessions, 120);
  assert.equal(r.findingCount, 0, monkeyText(r));
  assert.equal(r.verdict, "pass");
  assert.ok(r.outcomes.tempfail > 0, "faults fired and were answered with 4xx");
  assert.equal(r.outcomes.permfail, 0);
  const fired = Object.fromEntries(r.points.map((p) => [p.point, p.fired]));
  for (const p of ["queue.write", "lookup.recipients", "alloc"]) assert.ok((fired[p] ?? 0) > 0, `${p} fired`);
  assert.ok(r.ledger !== null && r.ledgerAfterRestart !== null);
  assert.ok(r.ledger.accepted > 20, `accepted ${r.ledger.accepted}`);
  assert.equal(r.ledgerAfterRestart.deliveredDistinct, r.ledgerAfterRestart.accepted + r.ledgerAfterRestart.deliveredAmbiguous);
  assert.equal(r.ledgerAfterRestart.lost, 0);
  assert.equal(r.ledgerAfterRestart.duplicates, 0);
  assert.match(monkeyText(r), /verdict: PASS/);
});

test("monkey run: a next hop that defers and greylists gets every relayed message exactly once", async () => {
  const plan = validatePlan({ points: { "nexthop.defer": { probability: 0.3 }, "nexthop.greylist": { probability: 0.5 } } });
  const r = await runMonkey({ ...base, plan, maxSessions: 40, createTarget: (extra) => monkeyTarget("embedded", extra) });
  assert.equal(r.findingCount, 0, monkeyText(r));
  assert.ok(nextHopOf(r) !== null);
  assert.ok(hop(r).stats.deferred + hop(r).stats.greylisted > 0, "the next hop misbehaved");
  assert.ok(hop(r).stats.accepted > 0, "and still received the relayed mail");
  assert.equal(hop(r).duplicates, 0);
});

test("monkey run: the correct fixture has no findings", async () => {
  const r = await againstFixture("none");
  assert.equal(r.findingCount, 0, monkeyText(r));
  assert.equal(r.outcomes.tempfail, 6);
});

test("monkey run: finds lost mail, 5xx under a fault, closes without 421, duplicates, hangs and a crash", async () => {
  const lose = await againstFixture("lose");
  assert.ok((lose.ledgerAfterRestart?.lost ?? 0) >= 3, monkeyText(lose));
  assert.equal(lose.verdict, "findings");

  const perm = await againstFixture("permfail-on-fault");
  assert.equal(perm.findings["permfail-under-fault"], 6, monkeyText(perm));

  const close = await againstFixture("close-on-fault");
  assert.equal((close.findings["close-without-reply"] ?? 0) + (close.findings["reset-without-reply"] ?? 0), 6, monkeyText(close));

  const dup = await againstFixture("duplicate-on-fault");
  assert.equal(dup.ledgerAfterRestart?.duplicates, 6, monkeyText(dup));

  const hang = await againstFixture("hang-on-fault", 8);
  assert.equal(hang.findings.hang, 2, monkeyText(hang));

  const crash = await againstFixture("crash-on-fault", 8);
  assert.ok(crash.crash !== null, monkeyText(crash));
  assert.match(crash.crash.fatal ?? "", /fatal: queue write failed/);
  assert.ok(crash.findingCount >= 1);
  assert.match(monkeyText(crash), /CRASH/);
});

test("monkey run: a plan naming a point the target lacks is refused before anything starts", async () => {
  await assert.rejects(
    runMonkey({ ...base, plan: validatePlan({ points: { "lookup.aliases": { always: true } } }), createTarget: () => fixtureMonkeyTarget("none") }),
    (err: unknown) => err instanceof UnsupportedPointsError && /lookup\.aliases/.test(err.message) && /queue\.write/.test(err.message),
  );
});

test("monkey run: an aborted run still reports what it saw", async () => {
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 1500);
  const r = await runMonkey({ ...base, durationMs: 60_000, signal: abort.signal, plan: validatePlan({ points: { "queue.write": { every: 3 } } }), createTarget: (extra) => monkeyTarget("embedded", extra) });
  assert.equal(r.interrupted, true);
  assert.equal(r.verdict, "interrupted");
  assert.ok(r.sessions > 0);
  assert.ok(r.ledger !== null, "the partial run is still reconciled");
  assert.equal(r.ledger.lost, 0);
});

test("monkey run --host: a server the user runs, faulted from the network, ledger from its Maildir", async (t) => {
  const { EmbeddedTarget } = await import("../../targets/embedded/target.js");
  const { ExternalTarget } = await import("../../targets/external/target.js");
  const { join } = await import("node:path");
  const server = new EmbeddedTarget({ keep: false });
  await server.start();
  t.after(() => server.stop());
  const external = new ExternalTarget(server.endpoint, ["user@test.example"], [join(server.workDir, "mail", "user", "Maildir")]);
  const plan = validatePlan({ points: { "net.reset": { every: 5 }, "net.split": { probability: 0.5 } } });
  const r = await runMonkey({ ...base, plan, maxSessions: 30, restart: false, createTarget: () => ({ target: external, surface: null, readsMailboxes: true }) });
  assert.equal(r.findingCount, 0, monkeyText(r));
  assert.equal(r.perFault["net.reset"]?.ungraceful, 6, "every 5th message reset after its dot: counted, not a finding");
  assert.ok(r.ledger !== null && r.ledger.accepted === 24 && r.ledger.lost === 0, monkeyText(r));
  assert.equal(r.ledger.deliveredDistinct, 30, "the server delivered the reset ones too (ambiguous, allowed)");
});

test("monkey run --host refuses a non-loopback server and faults inside it, before sending anything", async () => {
  const { main } = await import("../../monkey/cli.js");
  assert.equal(await main(["run", "--host", "192.0.2.7", "--port", "25", "--rcpt", "a@b.example", "--duration", "1s"]), 2);
  assert.equal(await main(["run", "--host", "127.0.0.1", "--port", "9", "--rcpt", "a@b.example", "--fault", "queue.write:always", "--duration", "1s"]), 2);
});

test("monkey run: pause/kill of a role the target does not have is refused (the in-process embedded target is this process)", async () => {
  await assert.rejects(
    runMonkey({ ...base, maxSessions: 1, plan: validatePlan({ points: { "pause.smtpd": { always: true, duration: "1s" } } }), createTarget: (extra) => monkeyTarget("embedded", extra) }),
    (err: unknown) => err instanceof UnsupportedPointsError && /pause\.smtpd/.test(err.message),
  );
});

test("monkey run: a plan changed while it runs (the control API's path) reschedules its process faults; after the flood the plan is locked", async () => {
  let ctx: Parameters<NonNullable<MonkeyRunOptions["onStarted"]>>[0] | null = null;
  let refused: unknown = null;
  const r = await runMonkey({
    ...base,
    maxSessions: 40,
    plan: validatePlan({ points: {} }),
    createTarget: () => ({ target: new EmbeddedTarget({ mode: "child" }), surface: null }),
    onStarted: async (c) => {
      ctx = c;
      await c.onPlanChange(validatePlan({ points: { "pause.nosuchrole": { always: true, duration: "20ms" } } })).catch((err: unknown) => (refused = err));
      const plan = validatePlan({ points: { "pause.smtpd": { always: true, interval: "100ms", duration: "20ms" } } });
      c.injector.setPlan(plan);
      await c.onPlanChange(plan);
    },
  });
  assert.ok(refused instanceof StatementError, `a role the target lacks is refused: ${String(refused)}`);
  assert.match((refused as Error).message, /no fault point pause\.nosuchrole/);
  assert.ok(((r.layers.process?.events as number | undefined) ?? 0) > 0, "the pause point added during the run paused the server");
  assert.equal(r.findingCount, 0, monkeyText(r));
  assert.ok(ctx !== null);
  assert.throws(() => (ctx as unknown as { assertFaultsOpen: () => void }).assertFaultsOpen(), StatementError);
});

test("monkey run: a restart with mail still queued says so (a duplicate then may be at-least-once redelivery)", async () => {
  // a queue that never drains: the embedded target, with its queue size pinned
  const createTarget: MonkeyRunOptions["createTarget"] = (extra) => {
    const m = monkeyTarget("embedded", extra);
    const target = new Proxy(m.target, {
      get(obj, prop) {
        if (prop === "queueSize") return async () => 3;
        const v: unknown = Reflect.get(obj, prop, obj);
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(obj) : v;
      },
    });
    return { ...m, target };
  };
  const r = await runMonkey({ ...base, plan: validatePlan({ points: {} }), maxSessions: 6, drainTimeoutMs: 200, createTarget });
  assert.equal(r.ledger?.queueSize, 3);
  assert.ok(r.notes.some((n) => /^3 message\(s\) were still queued when the target was restarted/.test(n)), r.notes.join("\n"));
});

test("monkey run: next-hop faults are not charged to client sessions (they hit the relaying, after the session)", async () => {
  const plan = validatePlan({ points: { "nexthop.defer": { always: true } } });
  const r = await runMonkey({ ...base, plan, maxSessions: 12, createTarget: (extra) => monkeyTarget("embedded", extra) });
  assert.ok((r.points.find((p) => p.point === "nexthop.defer")?.fired ?? 0) > 0, "the hop deferred");
  assert.equal(r.perFault["nexthop.defer"], undefined, JSON.stringify(r.perFault));
  assert.equal(r.perFault["(none)"]?.ok, 12);
});

test("monkey run: a next hop that loses its 250s gets those messages again (expected), with no findings", async () => {
  const plan = validatePlan({ points: { "nexthop.lose-250": { probability: 0.5 } } });
  const r = await runMonkey({ ...base, plan, maxSessions: 40, createTarget: (extra) => monkeyTarget("embedded", extra) });
  assert.equal(r.findingCount, 0, monkeyText(r));
  assert.ok(nextHopOf(r) !== null && hop(r).stats.lost250 > 0, JSON.stringify(nextHopOf(r)));
  assert.equal(hop(r).resentAfterLost250, hop(r).stats.lost250, "every lost 250 was followed by a resend");
  assert.equal(hop(r).duplicates, 0);
  assert.match(monkeyText(r), /resent after a lost 250 \d+ \(expected\)/);
});

test("monkey run: a planned point that never fires makes the run INCONCLUSIVE, names it and why, and is charged no session", async () => {
  const plan = validatePlan({ points: { "queue.write": { probability: 0.2 }, "queue.fsync": { always: true, window: { from: "1h" } } } });
  const r = await runMonkey({ ...base, plan, maxSessions: 30, createTarget: (extra) => monkeyTarget("embedded", extra) });
  assert.equal(r.findingCount, 0, monkeyText(r));
  assert.equal(r.verdict, "inconclusive");
  const fsync = r.reach.find((x) => x.point === "queue.fsync");
  assert.ok(fsync !== undefined && !fsync.reached && fsync.fired === 0);
  assert.ok((fsync.seen ?? 0) > 0 && fsync.eligible === 0, `reached by calls, none eligible: ${JSON.stringify(fsync)}`);
  assert.match(fsync.reason ?? "", /none eligible \(its window\)/);
  assert.equal(r.reach.find((x) => x.point === "queue.write")?.reached, true);
  assert.equal(r.perFault["queue.fsync"], undefined, "no session is charged to a point that never fired");
  assert.match(monkeyText(r), /queue\.fsync \[injector\]: .*none eligible[\s\S]*verdict: INCONCLUSIVE: no findings, but 1 planned fault point\(s\) never fired: queue\.fsync/);
});
