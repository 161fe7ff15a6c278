import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Ledger, MsgState, ledgerFindingCount } from "../../monkey/ledger.js";

test("ledger: clean run reconciles to zero findings", () => {
  const l = new Ledger("t1");
  const ids = Array.from({ length: 5 }, () => l.newId());
  for (const id of ids) {
    l.dotSent(id);
    l.settle(id, "accepted");
  }
  const rep = l.reconcile({ delivered: ids, queueSize: 0 });
  assert.equal(rep.accepted, 5);
  assert.equal(rep.deliveredDistinct, 5);
  assert.equal(rep.findings, false);
  assert.equal(rep.lost + rep.stuck + rep.duplicates, 0);
});

test("ledger: lost, stuck, duplicates, delivered after reject / ambiguous / unsent, foreign", () => {
  const l = new Ledger("t2");
  const [a, b, c, d, e, f, g, h] = Array.from({ length: 8 }, () => l.newId()) as [string, string, string, string, string, string, string, string];
  for (const id of [a, b, c, d]) l.settle(id, "accepted", ["queue.fsync"]);
  l.settle(e, "rejected", ["queue.write"]);
  l.settle(f, "ambiguous", ["net.reset"]);
  l.settle(g, "not-sent");
  l.settle(h, "accepted");
  // a delivered twice; b, c never; d once; e delivered although rejected; f delivered although
  // the client saw a reset (fine); g delivered although the client never finished DATA
  // c is still in the queue (with a foreign message and e, which was delivered)
  const rep = l.reconcile({ delivered: [a, a, d, e, f, g, h, "other-1", null], queueSize: 3, queued: [c, "other-2", e] });
  assert.equal(rep.duplicates, 1);
  assert.deepEqual(rep.samples.duplicates, [{ id: a, copies: 2 }]);
  assert.equal(rep.stuck, 1);
  assert.deepEqual(rep.samples.stuck, [c]);
  assert.equal(rep.lost, 1);
  assert.deepEqual(rep.samples.lost, [b]);
  assert.equal(rep.missing, 0);
  assert.equal(rep.queueListed, true);
  assert.equal(rep.queuedIds, 2);
  assert.equal(rep.deliveredAfterReject, 1);
  assert.deepEqual(rep.samples.deliveredAfterReject, [e]);
  assert.equal(rep.deliveredAmbiguous, 1);
  assert.equal(rep.deliveredUnsent, 1);
  assert.equal(rep.foreign, 2);
  assert.equal(rep.findings, true);
  assert.equal(rep.perFault["queue.fsync"]?.accepted, 4);
  assert.equal(rep.perFault["queue.fsync"]?.lost, 1);
  assert.equal(rep.perFault["queue.fsync"]?.stuck, 1);
  assert.equal(rep.perFault["queue.fsync"]?.duplicates, 1);
  assert.equal(rep.perFault["queue.write"]?.deliveredAfterReject, 1);
  assert.equal(rep.perFault["net.reset"]?.deliveredAmbiguous, 1);
});

test("ledger: a message with several faults is attributed to all of them together", () => {
  const l = new Ledger("t");
  const a = l.newId();
  const b = l.newId();
  l.settle(a, "accepted", ["queue.open", "queue.dir", "queue.open"]);
  l.settle(b, "accepted", ["queue.dir"]);
  const rep = l.reconcile({ delivered: [a, a, b], queueSize: 0 });
  assert.deepEqual(Object.keys(rep.perFault).sort(), ["queue.dir", "queue.open + queue.dir"]);
  assert.equal(rep.perFault["queue.open + queue.dir"]?.duplicates, 1);
  assert.equal(rep.perFault["queue.dir"]?.duplicates, 0);
});

test("ledger: ids are compact and only our own tag maps back", () => {
  const l = new Ledger("abc");
  for (let i = 0; i < 100_000; i++) l.newId();
  assert.equal(l.indexOf("abc-0"), 0);
  assert.equal(l.indexOf(`abc-${(99_999).toString(36)}`), 99_999);
  assert.equal(l.indexOf(`abc-${(100_000).toString(36)}`), -1, "not handed out yet");
  assert.equal(l.indexOf("abd-0"), -1);
  assert.equal(l.indexOf("abc-ZZ"), -1);
  assert.equal(l.stateOf("abc-0"), MsgState.NotSent);
});

test("ledger: a bounced message is bounced, not lost or stuck, and not a finding", () => {
  const l = new Ledger("b");
  const [a, b, c] = [l.newId(), l.newId(2), l.newId()];
  for (const id of [a, b, c]) l.settle(id, "accepted");
  // a bounced outright; b delivered to one of its two mailboxes, the other bounced; c delivered.
  // The queue is listed and empty: without the bounces, a and b would be lost.
  const rep = l.reconcile({ delivered: [b, c], bounced: [a, b, null, "other-3"], queueSize: 0, queued: [] });
  assert.equal(rep.bounced, 2);
  assert.deepEqual(rep.samples.bounced, [a, b]);
  assert.equal(rep.lost + rep.stuck + rep.missing + rep.deliveredAndBounced, 0);
  assert.equal(rep.foreign, 2, "a bounce of no message of ours is foreign");
  assert.equal(rep.findings, false);
  assert.equal(rep.perFault["(none)"]?.bounced, 2);
});

test("ledger: a message both delivered and bounced is a finding", () => {
  const l = new Ledger("db");
  const [a, b] = [l.newId(), l.newId()];
  for (const id of [a, b]) l.settle(id, "accepted", ["queue.fsync"]);
  const rep = l.reconcile({ delivered: [a, b], bounced: [a], queueSize: 0, queued: [] });
  assert.equal(rep.deliveredAndBounced, 1);
  assert.deepEqual(rep.samples.deliveredAndBounced, [a]);
  assert.equal(rep.bounced, 0);
  assert.equal(rep.findings, true);
  assert.equal(ledgerFindingCount(rep), 1);
  assert.equal(rep.perFault["queue.fsync"]?.deliveredAndBounced, 1);
});

test("ledger: with the queue's ids listed, stuck and lost are the ids in and out of the queue, whatever the queue's size", () => {
  const l = new Ledger("q");
  const ids = Array.from({ length: 30 }, () => l.newId());
  for (const id of ids) l.settle(id, "accepted");
  const queued = ids.filter((_, i) => i % 3 === 0);
  const lost = ids.filter((_, i) => i % 3 === 1);
  const delivered = ids.filter((_, i) => i % 3 === 2);
  // a queue full of other mail (58 bounces of nothing of ours): its size says nothing of which ids it holds
  const rep = l.reconcile({ delivered, queueSize: 58 + queued.length, queued: [...queued, ...Array.from({ length: 58 }, () => null)] });
  assert.equal(rep.stuck, 10);
  assert.equal(rep.lost, 10);
  assert.equal(rep.missing, 0);
  assert.deepEqual(rep.samples.stuck, queued);
  assert.deepEqual(rep.samples.lost, lost);
  // samples are bounded
  const small = l.reconcile({ delivered, queueSize: 10, queued }, 4);
  assert.deepEqual(small.samples.stuck, queued.slice(0, 4));
  assert.deepEqual(small.samples.lost, lost.slice(0, 4));
});

test("ledger: without the queue's ids, undelivered mail is missing (not split), unless the queue is empty", () => {
  const l = new Ledger("m");
  const [a, b, c] = [l.newId(), l.newId(), l.newId()];
  for (const id of [a, b, c]) l.settle(id, "accepted");
  const rep = l.reconcile({ delivered: [c], queueSize: 1 });
  assert.equal(rep.queueListed, false);
  assert.equal(rep.missing, 2);
  assert.deepEqual(rep.samples.missing, [a, b]);
  assert.equal(rep.stuck + rep.lost, 0, "no arbitrary split into stuck and lost");
  assert.equal(rep.findings, true);
  // an empty queue holds none of them: they are lost
  const empty = l.reconcile({ delivered: [c], queueSize: 0 });
  assert.equal(empty.lost, 2);
  assert.deepEqual(empty.samples.lost, [a, b]);
  assert.equal(empty.missing, 0);
  // a queue that cannot be counted at all says nothing either
  const unknown = l.reconcile({ delivered: [c], queueSize: 0, queueKnown: false });
  assert.equal(unknown.missing, 2);
  // a bounce still says what happened
  assert.equal(l.reconcile({ delivered: [c], bounced: [a], queueSize: 1 }).missing, 1);
});

test("property: reconcile counts match a naive model", () => {
  const results = ["accepted", "rejected", "ambiguous", "not-sent"] as const;
  fc.assert(
    fc.property(
      fc.array(fc.record({ result: fc.constantFrom(...results), copies: fc.nat({ max: 3 }), bounced: fc.boolean(), queued: fc.boolean() }), { maxLength: 60 }),
      fc.nat({ max: 5 }),
      fc.boolean(),
      (msgs, queueSize, listed) => {
        const l = new Ledger("p");
        const delivered: string[] = [];
        const bounced: string[] = [];
        const queued: string[] = [];
        const ids = msgs.map((m) => {
          const id = l.newId();
          l.settle(id, m.result);
          for (let k = 0; k < m.copies; k++) delivered.push(id);
          if (m.bounced) bounced.push(id);
          if (m.queued) queued.push(id);
          return id;
        });
        const rep = l.reconcile({ delivered: delivered.reverse(), bounced, queueSize, queued: listed ? queued : null });
        const undelivered = msgs.filter((m) => m.result === "accepted" && m.copies === 0 && !m.bounced);
        assert.equal(ids.length, rep.sent);
        assert.equal(rep.duplicates, msgs.filter((m) => m.copies > 1).length);
        assert.equal(rep.bounced, msgs.filter((m) => m.result === "accepted" && m.copies === 0 && m.bounced).length);
        assert.equal(rep.deliveredAndBounced, msgs.filter((m) => m.copies > 0 && m.bounced).length);
        if (listed) {
          assert.equal(rep.stuck, undelivered.filter((m) => m.queued).length);
          assert.equal(rep.lost, undelivered.filter((m) => !m.queued).length);
          assert.equal(rep.missing, 0);
        } else {
          assert.equal(rep.stuck, 0);
          assert.equal(rep.lost, queueSize === 0 ? undelivered.length : 0);
          assert.equal(rep.missing, queueSize === 0 ? 0 : undelivered.length);
        }
        assert.equal(rep.deliveredAfterReject, msgs.filter((m) => m.result === "rejected" && m.copies > 0).length);
        assert.equal(rep.deliveredAmbiguous, msgs.filter((m) => m.result === "ambiguous" && m.copies > 0).length);
        assert.equal(rep.findings, ledgerFindingCount(rep) > 0);
      },
    ),
    { numRuns: 200 },
  );
});

test("ledger: a loss no fault of its session explains is charged to the faults that touched its queue entry after its 250", () => {
  const l = new Ledger("q1");
  const a = l.newId();
  const b = l.newId();
  const c = l.newId();
  l.settle(a, "accepted");
  l.settle(b, "accepted", ["queue.write"]);
  l.settle(c, "accepted");
  const asked: number[] = [];
  const r = l.reconcile({
    delivered: [c],
    queueSize: 0,
    queued: [],
    afterAccept: (at) => {
      asked.push(at);
      return ["kill.queue", "kill.queue"];
    },
  });
  assert.equal(r.lost, 2);
  assert.equal(r.perFault["after its 250: kill.queue"]?.lost, 1, "a: its session had no fault; a kill after its 250 did");
  assert.equal(r.perFault["queue.write"]?.lost, 1, "b keeps its own session's fault");
  assert.equal(r.perFault["(none)"]?.lost ?? 0, 0);
  assert.equal(asked.length, 1, "asked only for the unexplained problem");
  assert.ok(Math.abs((asked[0] as number) - Date.now()) < 5000, "with the time of its 250");
  const none = new Ledger("q2");
  const d = none.newId();
  none.settle(d, "accepted");
  assert.equal(none.reconcile({ delivered: [], queueSize: 0, queued: [], afterAccept: () => [] }).perFault["(none)"]?.lost, 1, "nothing touched it: (none)");
});
