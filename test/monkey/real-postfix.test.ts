// Faults inside a real Postfix 3.7: socketmap lookups decided by our injector, libfiu in the
// cleanup service. Needs root and `npm run setup:mtas` (a missing MTA fails in CI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { PostfixTarget, POSTFIX_DAEMON_DIR } from "../../targets/postfix/target.js";
import { mtaAvailability, requireMta, waitFor } from "../targets/helpers.js";
import { attempt, injectorFor, wiredTarget } from "./real-helpers.js";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { runMonkey } from "../../monkey/run.js";
import { validatePlan } from "../../monkey/plan.js";
import { monkeyText } from "../../monkey/report.js";
import { SENDER_DOMAIN } from "../../targets/target.js";
import { maildirIds } from "../../targets/maildir/read.js";

const { why, skip } = mtaAvailability("postfix", join(POSTFIX_DAEMON_DIR, "master"));
const RCPT = "user@test.example";

test("postfix: a socketmap TEMP on the recipient map is 451 4.3.0 at RCPT", { skip }, async (t) => {
  requireMta("postfix", why);
  const { target, surface, stop } = wiredTarget<PostfixTarget>("postfix", { fiu: [] });
  t.after(stop);
  await target.start();
  assert.ok(surface !== null);
  assert.ok(surface.points().includes("lookup.recipients"));
  const injector = injectorFor({ "lookup.recipients": { once: true, action: "tempfail" } });
  await surface.apply(injector);
  const r = await attempt(target.endpoint.port, RCPT);
  assert.match(r.last, /^rcpt: 451 4\.3\.0 .*Temporary lookup failure/, r.last);
  assert.equal(injector.stats()[0]?.fired, 1);
  const ok = await attempt(target.endpoint.port, RCPT);
  assert.ok(ok.accepted, ok.last);
  await surface.clear();
  // virtual(8) must still deliver (it keeps a local table: it refuses socketmap for mailbox paths)
  await target.flushQueue();
  await waitFor("delivery", async () => (await target.delivered()).some((m) => m.id === ok.id));
  const unknown = await attempt(target.endpoint.port, "nobody@test.example");
  assert.match(unknown.last, /^rcpt: 550\b/, "the map still answers NOTFOUND for unknown users");
});

test("postfix: cleanup queue-file write and fsync failures (libfiu) are 451 after the dot, and nothing refused is delivered", { skip }, async (t) => {
  requireMta("postfix", why);
  const { target, surface, stop } = wiredTarget<PostfixTarget>("postfix", { fiu: ["cleanup"], lookups: false });
  t.after(stop);
  await target.start();
  assert.ok(surface !== null);

  // A write is only seen by libfiu once the record stream spills (messages over 4 KB).
  await surface.apply(injectorFor({ "queue.write": { always: true, errno: "EIO" } }));
  const w = await attempt(target.endpoint.port, RCPT, 20_000);
  assert.match(w.last, /^dot: 451 4\.3\.0 Error: queue file write error/, w.last);
  // counted from cleanup's log line, which reaches us through the maillog file a little later
  await waitFor("the logged write error to be counted", async () => ((await surface.drainFired()).get("queue.write") ?? 0) >= 1, 5000);
  await surface.apply(injectorFor({ "queue.fsync": { always: true, errno: "ENOSPC" } }));
  const f = await attempt(target.endpoint.port, RCPT);
  assert.match(f.last, /^dot: 4\d\d\b/, f.last);
  await surface.clear();
  const ok = await attempt(target.endpoint.port, RCPT);
  assert.ok(ok.accepted, ok.last);
  await target.flushQueue();
  const ids = await waitFor("delivery", async () => {
    const d = (await target.delivered()).map((m) => m.id);
    return d.includes(ok.id) ? d : null;
  });
  assert.ok(!ids.includes(w.id) && !ids.includes(f.id), "a refused message was delivered");
  assert.ok(target.logs().some((l) => /cleanup\[\d+\]: warning: .*write queue file: Input\/output error/.test(l)), "cleanup logged the injected error");
  assert.equal(target.crash(), null);
});

test("postfix: a tcp_table (tcp:) domain map that answers 400 is 451 at RCPT, and mail flows again once it heals", { skip }, async (t) => {
  requireMta("postfix", why);
  const { TcpTableServer } = await import("../../monkey/layers/tcp-table.js");
  const injector = injectorFor({ "lookup.domains": { always: true, action: "tempfail" } });
  const table = new TcpTableServer({ table: "domains", entries: { "test.example": "ok" }, injector });
  await table.start();
  t.after(() => table.stop());
  const target = new PostfixTarget({ main: { virtual_mailbox_domains: table.spec() } });
  t.after(() => target.stop());
  await target.start();
  const refused = await attempt(target.endpoint.port, RCPT);
  assert.match(refused.last, /^rcpt: 451 4\.3\.0 .*Temporary lookup failure/, refused.last);
  const fired = injector.stats()[0]?.fired ?? 0;
  assert.ok(fired >= 1, "the refusal came from our tcp_table server");
  injector.setEnabled(false);
  // smtpd caches the last address resolution (temporary failures included): ask for another one.
  const ok = await attempt(target.endpoint.port, "postmaster@test.example");
  assert.ok(ok.accepted, ok.last);
  assert.ok(table.requests > fired, "after healing, Postfix asked the server again and got the domain");
});

test("postfix + monkey: mail to a recipient that bounces after its 250 lands in the sender's Maildir as a bounce and is counted bounced, not lost", { skip }, async (t) => {
  requireMta("postfix", why);
  // postmaster@ is accepted at RCPT (unlisted recipients are not refused) but has no mailbox:
  // virtual(8) bounces it after the 250, to the flood's sender, whose domain is local
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-postfix-bounce-"));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "only-user"), `user@test.example user/Maildir/\n@${SENDER_DOMAIN} bounces/Maildir/\n`);
  const target = new PostfixTarget({ dir, main: { smtpd_reject_unlisted_recipient: "no", virtual_mailbox_maps: `texthash:${join(dir, "only-user")}` } });
  assert.deepEqual(target.mailboxes, [RCPT, "postmaster@test.example"]);
  const r = await runMonkey({ seed: 5, concurrency: 2, durationMs: 30_000, maxSessions: 12, timeoutMs: 10_000, drainTimeoutMs: 30_000, plan: validatePlan({ points: {} }), createTarget: () => ({ target, surface: null }) });
  const text = monkeyText(r);
  assert.ok(r.ledger !== null && r.ledgerAfterRestart !== null, text);
  for (const l of [r.ledger, r.ledgerAfterRestart]) {
    assert.ok(l.bounced > 0, text);
    assert.equal(l.queueListed, true, "Postfix's queue ids are read");
    assert.deepEqual([l.lost, l.stuck, l.missing, l.deliveredAndBounced, l.duplicates], [0, 0, 0, 0, 0], text);
  }
  assert.equal(r.findingCount, 0, text);
  assert.equal(r.verdict, "pass", text);
  assert.match(text, /│ bounced │/);
  // the bounced ids are those of the bounces in the senders' Maildir
  const { bounced } = await maildirIds([join(dir, "mail", "bounces", "Maildir")]);
  assert.equal(new Set(bounced).size, r.ledgerAfterRestart.bounced, text);
  for (const id of r.ledgerAfterRestart.samples.bounced) assert.ok(bounced.includes(id), `${id} has a bounce`);
});
