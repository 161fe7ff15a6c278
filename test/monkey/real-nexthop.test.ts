// `runMonkey` with a flaky next hop behind the real MTAs: OpenSMTPD, Postfix, Exim and Sendmail relay
// relay.test.example to it while it defers, greylists, answers 421 after the final dot or drops
// the connection. Every relayed message must arrive exactly once, after the MTA retried it.
// Needs root and `npm run setup:mtas` (a missing MTA fails in CI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { nextHopOf } from "../../monkey/layers/units/nexthop.js";
import type { NextHopDetails } from "../../monkey/layers/units/nexthop.js";

/** the next hop's counts of a run that had one (asserted) */
const hop = (r: MonkeyReport): NextHopDetails => {
  const h = nextHopOf(r);
  assert.ok(h !== null, "the run had a next hop");
  return h;
};
import { join } from "node:path";
import { runMonkey, type MonkeyReport } from "../../monkey/run.js";
import { validatePlan } from "../../monkey/plan.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { monkeyText } from "../../monkey/report.js";
import { OPENSMTPD_PREFIX } from "../../targets/opensmtpd/target.js";
import { POSTFIX_DAEMON_DIR } from "../../targets/postfix/target.js";
import { mtaAvailability, requireMta } from "../targets/helpers.js";

/** What the MTA logs about one relay attempt: its queue id and whether the hop took it. */
type Attempt = { id: string; ok: boolean };

const MTAS: Array<{ name: string; binary: string; attempt: (line: string) => Attempt | null }> = [
  {
    name: "opensmtpd",
    binary: join(OPENSMTPD_PREFIX, "usr/sbin/smtpd"),
    // mta delivery evpid=... to=<user@relay.test.example> ... result="TempFail" stat="450 ..."
    attempt: (line) => {
      const m = /\bmta delivery evpid=([0-9a-f]+) .*\bto=<[^>]*@relay\.test\.example>.* result="(\w+)"/.exec(line);
      return m === null ? null : { id: m[1] as string, ok: m[2] === "Ok" };
    },
  },
  {
    name: "postfix",
    binary: join(POSTFIX_DAEMON_DIR, "master"),
    // postfix/smtp[...]: QUEUEID: to=<user@relay.test.example>, relay=..., status=deferred (...)
    attempt: (line) => {
      const m = /postfix\/smtp\[\d+\]: ([0-9A-F]+): to=<[^>]*@relay\.test\.example>.* status=(\w+)/.exec(line);
      return m === null ? null : { id: m[1] as string, ok: m[2] === "sent" };
    },
  },
  {
    // a target file: targets/files/exim.target.yaml
    name: "exim",
    binary: "/opt/smtpchaos/exim/usr/sbin/exim4",
    // 2026-12-03 08:48:01 1xZ2Tx-000602-0a == user@relay.test.example R=relay_hop T=hop_smtp defer (-44) ...
    // 2026-12-03 08:48:02 1xZ2Tx-000602-0a => user@relay.test.example R=relay_hop T=hop_smtp H=127.0.0.1 ...
    attempt: (line) => {
      const m = /\s([0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}) (==|=>) \S*@relay\.test\.example\b/.exec(line);
      return m === null ? null : { id: m[1] as string, ok: m[2] === "=>" };
    },
  },
  {
    // a target file too (targets/files/sendmail.target.yaml); its log comes through syslog
    name: "sendmail",
    binary: "/opt/smtpchaos/sendmail/usr/libexec/sendmail/sendmail",
    // ... sendmail[123]: 6B7KvufO012922: to=<user@relay.test.example>, ... mailer=hop, ... stat=Deferred: 451 ...
    // ... sendmail[124]: 6B7KvufO012922: to=<user@relay.test.example>, ... mailer=hop, ... stat=Sent (...)
    attempt: (line) => {
      const m = /: ([0-9A-Za-z]{14}): to=<[^>]*@relay\.test\.example>.* stat=(\w+)/.exec(line);
      return m === null ? null : { id: m[1] as string, ok: m[2] === "Sent" };
    },
  },
];

/** Queue ids the MTA failed to relay at least once and relayed later: its retries, from its own log. */
function retried(lines: readonly string[], attempt: (line: string) => Attempt | null): string[] {
  const failed = new Set<string>();
  const out = new Set<string>();
  for (const line of lines) {
    const a = attempt(line);
    if (a === null) continue;
    if (!a.ok) failed.add(a.id);
    else if (failed.has(a.id)) out.add(a.id);
  }
  return [...out];
}

async function nextHopRun(mta: (typeof MTAS)[number], points: Record<string, unknown>, seed: number): Promise<{ r: MonkeyReport; retries: string[] }> {
  const lines: string[] = [];
  const r = await runMonkey({
    seed,
    concurrency: 2,
    // Faults stop with the flood, and the MTA relays on its own schedule: the flood runs for a few
    // seconds (not a few sessions), so relays happen while the hop still misbehaves.
    durationMs: 4000,
    maxSessions: 400,
    timeoutMs: 10_000,
    drainTimeoutMs: 40_000,
    plan: validatePlan({ points }),
    createTarget: (extra) => monkeyTarget(mta.name, extra),
    // the same supervisor survives the runner's restart, so this sees the whole run
    onStarted: async ({ target }) => void target.onLog((l) => lines.push(l)),
  });
  return { r, retries: retried(lines, mta.attempt) };
}

function assertExactlyOnce(r: MonkeyReport): void {
  assert.equal(r.findingCount, 0, monkeyText(r));
  assert.ok(nextHopOf(r) !== null && r.ledgerAfterRestart !== null, monkeyText(r));
  assert.ok(hop(r).stats.accepted > 0, `the relayed mail reached the hop: ${monkeyText(r)}`);
  assert.equal(hop(r).duplicates, 0, "no message arrived at the hop twice");
  const l = r.ledgerAfterRestart;
  assert.equal(l.lost + l.stuck, 0, monkeyText(r));
  assert.equal(l.duplicates, 0, monkeyText(r));
  assert.equal(l.deliveredDistinct, l.accepted + l.deliveredAmbiguous, "every acknowledged message delivered (locally or at the hop)");
}

for (const mta of MTAS) {
  const { why, skip } = mtaAvailability(mta.name, mta.binary);

  test(`${mta.name} + monkey: a next hop that defers and greylists gets every relayed message exactly once`, { skip }, async () => {
    requireMta(mta.name, why);
    const { r, retries } = await nextHopRun(mta, { "nexthop.defer": { probability: 0.3 }, "nexthop.greylist": { probability: 0.5 } }, 7);
    assertExactlyOnce(r);
    const s = nextHopOf(r)?.stats;
    assert.ok(s !== undefined && s.deferred + s.greylisted > 0, `the hop deferred or greylisted: ${JSON.stringify(s)}`);
    assert.ok(retries.length > 0, `${mta.name} logged a relay that failed and later succeeded`);
  });

  // Neither fault lets the hop keep the message (it refuses with 421 or drops before recording
  // it), so a resend is the only correct outcome and a duplicate would be the MTA's.
  test(`${mta.name} + monkey: a next hop that answers 421 after the dot or drops the connection gets every relayed message exactly once`, { skip }, async () => {
    requireMta(mta.name, why);
    const { r, retries } = await nextHopRun(mta, { "nexthop.421-data": { probability: 0.3 }, "nexthop.disconnect": { probability: 0.3 } }, 11);
    assertExactlyOnce(r);
    const s = nextHopOf(r)?.stats;
    assert.ok(s !== undefined && s.dataAborts421 + s.disconnects > 0, `the hop failed some transactions after the dot: ${JSON.stringify(s)}`);
    assert.ok(retries.length > 0, `${mta.name} logged a relay that failed and later succeeded`);
  });

  // RFC 1047: the hop keeps the message and drops the line before its 250. The MTA cannot know
  // it arrived, so it must send it again: that copy is expected (not a duplicate), a loss is not.
  test(`${mta.name} + monkey: a next hop that keeps a message but loses its 250 gets it again, and nothing is lost`, { skip }, async () => {
    requireMta(mta.name, why);
    const { r } = await nextHopRun(mta, { "nexthop.lose-250": { every: 3 } }, 13);
    assertExactlyOnce(r);
    assert.ok((nextHopOf(r)?.stats.lost250 ?? 0) > 0, `the hop lost some 250s: ${JSON.stringify(nextHopOf(r)?.stats)}`);
    assert.ok((nextHopOf(r)?.resentAfterLost250 ?? 0) > 0, `${mta.name} sent those messages again: ${monkeyText(r)}`);
  });
}
