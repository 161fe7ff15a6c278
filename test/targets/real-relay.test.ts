// The real targets' relay option: one domain goes to a next hop on loopback, nothing else is
// relayed, no lookup or packet leaves loopback, and a hop anywhere else is refused up front.
// The MTA tests need root and `npm run setup:mtas` (a missing MTA fails in CI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenSmtpdTarget, OPENSMTPD_PREFIX } from "../../targets/opensmtpd/target.js";
import { PostfixTarget, POSTFIX_DAEMON_DIR } from "../../targets/postfix/target.js";
import type { DaemonTarget } from "../../targets/process/daemon-target.js";
import { RelayConfigError, type RelayTo } from "../../targets/process/relay.js";
import { RemoteTargetError } from "../../common/loopback.js";
import { networkPeers, isLoopbackOrAny } from "../../targets/process/strace.js";
import { FlakyNextHop } from "../../monkey/layers/nexthop.js";
import { mtaAvailability, requireMta, sendOne, waitFor } from "./helpers.js";

const MTAS = [
  { name: "opensmtpd", binary: join(OPENSMTPD_PREFIX, "usr/sbin/smtpd"), make: (o: { relay: RelayTo; straceNetworkTo?: string }) => new OpenSmtpdTarget(o) as DaemonTarget },
  { name: "postfix", binary: join(POSTFIX_DAEMON_DIR, "master"), make: (o: { relay: RelayTo; straceNetworkTo?: string }) => new PostfixTarget(o) as DaemonTarget },
];

const DOMAIN = "relay.test.example";

for (const mta of MTAS) {
  test(`${mta.name}: a relay off loopback, by name or to an odd domain is refused before anything starts`, () => {
    const relay = (over: Partial<RelayTo>): RelayTo => ({ domain: DOMAIN, host: "127.0.0.1", port: 2525, ...over });
    for (const host of ["10.0.0.1", "192.0.2.7", "mx.example.com"]) {
      assert.throws(() => mta.make({ relay: relay({ host }) }), (e: unknown) => e instanceof RemoteTargetError && e.message.includes(`${mta.name}: relay of ${DOMAIN} to ${host}`) && /loopback/.test(e.message));
    }
    // loopback, but not a literal the target can use without a lookup (or over IPv4)
    for (const host of ["localhost", "::1"]) assert.throws(() => mta.make({ relay: relay({ host }) }), (e: unknown) => e instanceof RelayConfigError && /IPv4 literal/.test(e.message));
    assert.throws(() => mta.make({ relay: relay({ port: 0 }) }), RelayConfigError);
    assert.throws(() => mta.make({ relay: relay({ domain: 'x" action "evil' }) }), /not a plain domain name/);
    assert.throws(() => mta.make({ relay: relay({ domain: "test.example" }) }), /delivered locally/);
    assert.doesNotThrow(() => mta.make({ relay: relay({ host: "127.0.0.2" }) }));
  });

  const { why, skip } = mtaAvailability(mta.name, mta.binary);

  test(`${mta.name}: relays its relay domain to the loopback hop and nothing else; no network call leaves loopback`, { skip }, async (t) => {
    requireMta(mta.name, why);
    if (!existsSync("/usr/bin/strace")) assert.fail("strace is required (npm run setup:mtas installs it)");
    const hop = new FlakyNextHop({ injector: null });
    t.after(() => hop.stop());
    await hop.start();
    const address = hop.address();
    assert.ok(address !== null);
    const traceDir = mkdtempSync(join(tmpdir(), "smtpchaos-trace-"));
    const trace = join(traceDir, "net.trace");
    const target = mta.make({ relay: { domain: DOMAIN, ...address }, straceNetworkTo: trace });
    t.after(() => target.stop());
    t.after(() => rmSync(traceDir, { recursive: true, force: true }));
    await target.start();
    const { port } = target.endpoint;

    const relayed = await sendOne("127.0.0.1", port, `user@${DOMAIN}`);
    assert.equal(relayed.replies.at(-1)?.code, 250, relayed.replies.map((r) => `${r.code} ${r.text}`).join(" | "));
    const local = await sendOne("127.0.0.1", port, "user@test.example");
    assert.equal(local.replies.at(-1)?.code, 250);
    // Anything but the one relay domain is still not relayed (and must not be looked up).
    const foreign = await sendOne("127.0.0.1", port, "someone@example.com");
    assert.equal(foreign.replies[3]?.klass, "permfail", `RCPT to a foreign domain refused: ${foreign.replies.map((r) => `${r.code} ${r.text}`).join(" | ")}`);

    await target.flushQueue();
    await waitFor("the relayed message at the hop", async () => hop.arrivals.get(relayed.id) === 1);
    await waitFor("local delivery", async () => (await target.delivered()).some((m) => m.id === local.id));
    assert.deepEqual([...hop.arrivals.keys()], [relayed.id], "only the relay domain's message reached the hop");
    await target.stop();

    const text = readFileSync(trace, "utf8");
    const addrs = networkPeers(text);
    assert.ok(
      text.split("\n").some((l) => /\bconnect\(/.test(l) && l.includes(`sin_port=htons(${address.port})`) && l.includes('inet_addr("127.0.0.1")')),
      "the trace saw the relay's connection to the hop (tracing covers the relay path)",
    );
    assert.deepEqual(addrs.filter((a) => !isLoopbackOrAny(a)), [], "network calls to non-loopback addresses");
  });
}
