import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Ledger, MsgState } from "../../monkey/ledger.js";

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
  const rep = l.reconcile({ delivered: [a, a, d, e, f, g, h, "other-1", null], queueSize: 1 });
  assert.equal(rep.duplicates, 1);
  assert.deepEqual(rep.samples.duplicates, [{ id: a, copies: 2 }]);
  assert.equal(rep.stuck, 1, "one of the two undelivered accepted messages can be in the queue");
  assert.equal(rep.lost, 1);
  assert.equal(rep.samples.lost.length, 1);
  assert.ok([b, c].includes(rep.samples.lost[0] as string));
  assert.equal(rep.deliveredAfterReject, 1);
  assert.deepEqual(rep.samples.deliveredAfterReject, [e]);
  assert.equal(rep.deliveredAmbiguous, 1);
  assert.equal(rep.deliveredUnsent, 1);
  assert.equal(rep.foreign, 2);
  assert.equal(rep.findings, true);
  assert.equal(rep.perFault["queue.fsync"]?.accepted, 4);
  assert.equal((rep.perFault["queue.fsync"]?.lost ?? 0) + (rep.perFault["queue.fsync"]?.stuck ?? 0), 2);
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

test("property: reconcile counts match a naive model", () => {
  const results = ["accepted", "rejected", "ambiguous", "not-sent"] as const;
  fc.assert(
    fc.property(
      fc.array(fc.record({ result: fc.constantFrom(...results), copies: fc.nat({ max: 3 }) }), { maxLength: 60 }),
      fc.nat({ max: 5 }),
      (msgs, queueSize) => {
        const l = new Ledger("p");
        const delivered: string[] = [];
        const ids = msgs.map((m) => {
          const id = l.newId();
          l.settle(id, m.result);
          for (let k = 0; k < m.copies; k++) delivered.push(id);
          return id;
        });
        const rep = l.reconcile({ delivered: delivered.reverse(), queueSize });
        const undelivered = msgs.filter((m) => m.result === "accepted" && m.copies === 0).length;
        assert.equal(ids.length, rep.sent);
        assert.equal(rep.duplicates, msgs.filter((m) => m.copies > 1).length);
        assert.equal(rep.stuck, Math.min(undelivered, queueSize));
        assert.equal(rep.lost, undelivered - rep.stuck);
        assert.equal(rep.deliveredAfterReject, msgs.filter((m) => m.result === "rejected" && m.copies > 0).length);
        assert.equal(rep.deliveredAmbiguous, msgs.filter((m) => m.result === "ambiguous" && m.copies > 0).length);
      },
    ),
    { numRuns: 200 },
  );
});
