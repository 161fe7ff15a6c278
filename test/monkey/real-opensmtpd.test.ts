// Faults inside a real OpenSMTPD 6.8: libfiu in its queue role, lookups decided by our injector,
// smtpscript `monkey` statements. Needs root and `npm run setup:mtas` (a missing MTA fails in CI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { OpenSmtpdTarget} from "../../targets/opensmtpd/target.js";
import { OPENSMTPD_PREFIX } from "../../targets/opensmtpd/target.js";
import { mtaAvailability, requireMta, waitFor } from "../targets/helpers.js";
import { attempt, injectorFor, wiredTarget, type Outcome } from "./real-helpers.js";

const { why, skip } = mtaAvailability("opensmtpd", join(OPENSMTPD_PREFIX, "usr/sbin/smtpd"));
const RCPT = "user@test.example";

async function deliveredIds(target: OpenSmtpdTarget, expect: string[]): Promise<string[]> {
  await target.flushQueue();
  const ids = (await target.delivered()).map((m) => m.id ?? "");
  if (expect.every((id) => ids.includes(id))) return ids;
  return waitFor("delivery of every accepted message", async () => {
    const now = (await target.delivered()).map((m) => m.id ?? "");
    return expect.every((id) => now.includes(id)) ? now : null;
  });
}

test("opensmtpd: queue.open failures in the queue role are 4xx, and no accepted message is lost", { skip }, async (t) => {
  requireMta("opensmtpd", why);
  const { target, surface, stop } = wiredTarget<OpenSmtpdTarget>("opensmtpd", { fiu: ["queue"], lookups: false });
  t.after(stop);
  await target.start();
  assert.ok(surface !== null);
  assert.ok(surface.points().includes("queue.open") && surface.points().includes("pause.queue"));

  await surface.apply(injectorFor({ "queue.open": { always: true, errno: "EIO" } }));
  const refused: Outcome[] = [];
  for (let i = 0; i < 3; i++) refused.push(await attempt(target.endpoint.port, RCPT));
  for (const o of refused) assert.match(o.last, /^rcpt: 421\b/, `every open fails: the envelope cannot be created (${o.last})`);
  const fired = await surface.drainFired();
  assert.ok((fired.get("queue.open") ?? 0) >= 3, `the queue logged the failed opens: ${JSON.stringify([...fired])}`);

  // At random (libfiu's own RNG): whatever fails must be a 4xx, whatever is accepted delivered.
  await surface.apply(injectorFor({ "queue.open": { probability: 0.2, errno: "ENOSPC" } }));
  const mixed: Outcome[] = [];
  for (let i = 0; i < 8; i++) mixed.push(await attempt(target.endpoint.port, RCPT));
  await surface.clear();
  for (let i = 0; i < 2; i++) mixed.push(await attempt(target.endpoint.port, RCPT));
  for (const o of mixed) assert.ok(o.accepted || (o.code !== null && o.code >= 400 && o.code < 500), `graceful: 250 or 4xx, got ${o.last}`);
  const accepted = mixed.filter((o) => o.accepted).map((o) => o.id);
  assert.ok(accepted.length >= 2, "mail flows once the faults are cleared");
  const delivered = await deliveredIds(target, accepted);
  for (const id of accepted) assert.equal(delivered.filter((d) => d === id).length, 1, `accepted ${id} delivered exactly once`);
  for (const o of [...refused, ...mixed.filter((m) => !m.accepted && m.id !== "")]) assert.ok(!delivered.includes(o.id), `refused ${o.id} was delivered`);
  assert.equal(target.crash(), null);
});

test("opensmtpd: a temporary failure of the recipient or domain table is a 4xx at RCPT", { skip }, async (t) => {
  requireMta("opensmtpd", why);
  const { target, surface, stop } = wiredTarget<OpenSmtpdTarget>("opensmtpd", { fiu: [] });
  t.after(stop);
  await target.start();
  assert.ok(surface !== null);
  const injector = injectorFor({ "lookup.recipients": { once: true, action: "tempfail" } });
  await surface.apply(injector);
  const r = await attempt(target.endpoint.port, RCPT);
  assert.match(r.last, /^rcpt: 4\d\d\b/, r.last);
  assert.equal(injector.stats()[0]?.fired, 1, "the injector in this process decided the lookup");
  await surface.apply(injectorFor({ "lookup.domains": { once: true, action: "tempfail" } }));
  const d = await attempt(target.endpoint.port, RCPT);
  assert.match(d.last, /^rcpt: 4\d\d\b/, d.last);
  const ok = await attempt(target.endpoint.port, RCPT);
  assert.ok(ok.accepted, `after the one failure, lookups answer again: ${ok.last}`);
  await surface.clear();
  assert.equal(target.crash(), null);
});

test("opensmtpd: pause.queue through the surface stops the queue role and resumes it", { skip }, async (t) => {
  requireMta("opensmtpd", why);
  const { target, surface, stop } = wiredTarget<OpenSmtpdTarget>("opensmtpd", { fiu: [], lookups: false });
  t.after(stop);
  await target.start();
  assert.ok(surface !== null);
  // a long interval: the test drives the one decision itself
  await surface.apply(injectorFor({ "pause.queue": { always: true, duration: "1500ms", interval: "1h" } }));
  const pf = surface.processes;
  assert.ok(pf !== null, "the plan's process point started the process layer");
  const queue = (await target.processes()).find((p) => p.role === "queue");
  assert.ok(queue !== undefined);
  await pf.tickNow("pause.queue");
  assert.deepEqual(pf.pausedPids(), [queue.pid]);
  // the signal is delivered asynchronously
  await waitFor("the queue to be stopped", async () => /\) T /.test(readFileSync(`/proc/${queue.pid}/stat`, "utf8")), 2000);
  // while the queue is stopped a transaction waits, then completes once it resumes
  const o = await attempt(target.endpoint.port, RCPT);
  assert.ok(o.accepted, o.last);
  await surface.clear();
  assert.deepEqual(pf.pausedPids(), []);
  await waitFor("the queue to run again", async () => !/\) T /.test(readFileSync(`/proc/${queue.pid}/stat`, "utf8")), 2000);
  assert.equal(target.crash(), null);
});

test("opensmtpd: the smtpscript example with monkey statements passes through the runner", { skip }, async () => {
  requireMta("opensmtpd", why);
  const r = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, ["dist/bin/smtpscript.js", "--target", "opensmtpd", "smtpscript/examples/opensmtpd-queue-fault.smtp"], (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, out: stdout + stderr }),
    ),
  );
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /passed: 2\/2/);
});
