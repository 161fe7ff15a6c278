// The flaky next hop defers, greylists, aborts DATA with 421 and drops connections per plan,
// and counts arrivals by X-Smtpchaos-Id so exactly-once delivery can be checked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PreparedMessage, buildMessage, runSmtpSession } from "../../smtp/index.js";
import { Injector } from "../../monkey/injector.js";
import { validatePlan } from "../../monkey/plan.js";
import { FlakyNextHop } from "../../monkey/layers/nexthop.js";

async function start(points: Record<string, unknown>, t: { after: (fn: () => Promise<void>) => void }) {
  const hop = new FlakyNextHop({ injector: new Injector({ plan: validatePlan({ points }), seed: 3 }) });
  await hop.start();
  t.after(() => hop.stop());
  return { hop, port: hop.address()?.port ?? 0 };
}

/** One delivery attempt as a relaying MTA would make it; returns the failing reply or error, or "ok". */
async function attempt(port: number, msg: { data: Buffer }, from = "a@relay.test"): Promise<string> {
  let failure: string | null = null;
  const r = await runSmtpSession({
    host: "127.0.0.1",
    port,
    timeoutMs: 3000,
    helo: "mta.test",
    quitAfterRefusal: true,
    observer: { refused: (_step, reply) => void (failure ??= String(reply.code)), failed: (_step, err) => void (failure ??= err.kind) },
    transactions: 1,
    transaction: () => ({ from, to: ["user@remote.example"], message: () => new PreparedMessage(msg.data) }),
  });
  return r.outcome === "ok" ? "ok" : (failure ?? r.outcome);
}

test("next hop: greylisting defers the first attempt per triplet, then accepts", async (t) => {
  const { hop, port } = await start({ "nexthop.greylist": { always: true } }, t);
  const m = buildMessage({ from: "a@relay.test", to: ["user@remote.example"], body: "hi\r\n" });
  assert.equal(await attempt(port, m), "450");
  assert.equal(await attempt(port, m), "ok");
  assert.equal(await attempt(port, m, "b@relay.test"), "450", "a new sender is a new triplet");
  assert.equal(hop.stats.greylisted, 2);
  assert.deepEqual(hop.duplicates(), []);
  assert.equal(hop.arrivals.get(m.id), 1);
});

test("next hop: defer, 421 after DATA, disconnect, then exactly-once accounting", async (t) => {
  const { hop, port } = await start({ "nexthop.defer": { once: 1 }, "nexthop.421-data": { once: 1 }, "nexthop.disconnect": { once: 2 } }, t);
  const m = buildMessage({ from: "a@relay.test", to: ["user@remote.example"], body: "hi\r\n" });
  assert.equal(await attempt(port, m), "451");
  assert.equal(await attempt(port, m), "421");
  assert.equal(await attempt(port, m), "disconnect");
  assert.equal(await attempt(port, m), "ok");
  assert.deepEqual(hop.stats, { sessions: 4, deferred: 1, greylisted: 0, dataAborts421: 1, disconnects: 1, lost250: 0, accepted: 1 });
  assert.equal(hop.arrivals.get(m.id), 1);
  // a retry after a success is a duplicate the next hop reports
  assert.equal(await attempt(port, m), "ok");
  assert.deepEqual(hop.duplicates(), [{ id: m.id, copies: 2 }]);
});

test("next hop: lose-250 keeps the message, drops before the 250; the resend it calls for is not a duplicate, a third copy is", async (t) => {
  const { hop, port } = await start({ "nexthop.lose-250": { once: 1 } }, t);
  const m = buildMessage({ from: "a@relay.test", to: ["user@remote.example"], body: "hi\r\n" });
  assert.equal(await attempt(port, m), "disconnect", "no reply to the dot");
  assert.equal(hop.arrivals.get(m.id), 1, "but the message was kept");
  assert.equal(await attempt(port, m), "ok", "the resend a relaying MTA must make");
  assert.equal(hop.arrivals.get(m.id), 2);
  assert.deepEqual(hop.duplicates(), []);
  assert.equal(hop.resentAfterLost250(), 1);
  assert.equal(hop.counted().get(m.id), 1);
  assert.equal(hop.stats.lost250, 1);
  assert.equal(await attempt(port, m), "ok");
  assert.deepEqual(hop.duplicates(), [{ id: m.id, copies: 2 }], "a copy beyond the resend is a duplicate");
});
