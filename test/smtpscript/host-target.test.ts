// `suite run --host --maildir` reads deliveries through the monkey's target for a server the user
// runs (targets/external/target.ts), adapted like a managed target (scriptTargetOf). Where the
// two used to differ, this is what was kept and why:
// - settle: without a queue-size command the queue says nothing (always 0), so `expect delivered`
//   reads only once the Maildirs settle (the suite's behaviour: mail arrives seconds after its
//   250); a target whose queue can be counted is drained instead (the monkey's: the count is
//   believed, no settle wait on top of it);
// - head size: delivered() gives each message's first 64 KiB (the suite's; the monkey's target
//   gave no data at all), since `expect delivered` matches headers, which smtpscript looks for in
//   the first 64 KiB; whole messages are not read, the Maildir may hold much other mail;
// - a Maildir that cannot be listed is an error (the suite's), not an empty box (the monkey's),
//   which would have made every message in it lost.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExternalTarget } from "../../targets/external/target.js";
import { MaildirReadError } from "../../targets/maildir/read.js";
import { DEFAULT_SETTLE_MS, hostScriptTarget, managedScriptTarget, scriptTargetOf } from "../../smtpscript/bind-target.js";
import type { Target } from "../../targets/target.js";

const work = mkdtempSync(join(tmpdir(), "smtpchaos-host-target-"));
after(() => rmSync(work, { recursive: true, force: true }));
let boxes = 0;
const server = { host: "127.0.0.1", port: 1, tls: false, starttls: false };

function maildir(): string {
  const box = join(work, `box${++boxes}`);
  for (const sub of ["tmp", "new", "cur"]) mkdirSync(join(box, sub), { recursive: true });
  return box;
}

/** Delivers like an MTA: written in tmp/, renamed into new/. */
function deliver(box: string, name: string, text: string): void {
  writeFileSync(join(box, "tmp", name), text);
  renameSync(join(box, "tmp", name), join(box, "new", name));
}

test("--host --maildir without a queue command: expect delivered reads once the Maildirs settle, so a delivery after the 250 is counted", async () => {
  const box = maildir();
  const target = hostScriptTarget(server, [box], { settleMs: 400, maxMs: 5000 });
  assert.equal(await target.queueSize(), 0, "the queue is out of sight");
  await target.flushQueue();
  const late = setTimeout(() => deliver(box, "1", "X-Smtpchaos-Id: late-1\r\n\r\nhi\r\n"), 200);
  const started = Date.now();
  const read = await target.delivered();
  clearTimeout(late);
  assert.equal(read.length, 1, "the message delivered 200 ms into the wait");
  assert.ok(Date.now() - started >= 600, "still for 400 ms after the delivery at 200 ms");
  // unadapted (no settle) the same target reads at once, and misses a delivery still on its way
  const unsettled = scriptTargetOf(new ExternalTarget(server, [], [box]), null);
  const later = new Promise<void>((resolve) => setTimeout(() => resolve(deliver(box, "2", "X-Smtpchaos-Id: late-2\r\n\r\n")), 300));
  assert.equal((await unsettled.delivered()).length, 1);
  await later;
  assert.equal((await unsettled.delivered()).length, 2);
});

test("--host with a queue-size command: its count is believed, no settle wait on top", async () => {
  const box = maildir();
  deliver(box, "1", "X-Smtpchaos-Id: q-1\r\n\r\n");
  const counted = new ExternalTarget(server, [], [box], { commands: { queueSize: "echo 0" } });
  const target = scriptTargetOf(counted, null, { settleMs: 5000, maxMs: 5000 });
  const started = Date.now();
  assert.equal((await target.delivered()).length, 1);
  assert.ok(Date.now() - started < 2000, `read after ${Date.now() - started} ms`);
});

test("--host --maildir: each message's first 64 KiB is read, so a header deep in a long header section still matches", async () => {
  const box = maildir();
  const filler = `X-Filler: ${"f".repeat(990)}\r\n`.repeat(40);
  deliver(box, "1", `${filler}X-Smtpchaos-Smuggled: deep\r\n\r\n${"b".repeat(200_000)}\r\n`);
  const [m] = await hostScriptTarget(server, [box], { settleMs: 100, maxMs: 2000 }).delivered();
  assert.ok(m !== undefined);
  assert.equal(m.data.length, 64 * 1024);
  assert.match(m.data.toString("latin1"), /^X-Smtpchaos-Smuggled: deep$/m, "the header 40 KB in is in what was read");
  const [d] = await new ExternalTarget(server, [], [box]).delivered();
  assert.ok(d !== undefined && d.size > 240_000, "the size is the file's, not the head's");
});

test("--host --maildir: a Maildir whose new/ cannot be listed is an error, not zero deliveries", async () => {
  const box = join(work, "broken");
  mkdirSync(box);
  writeFileSync(join(box, "new"), "");
  // waiting for it to settle fails the same way as reading it
  await assert.rejects(hostScriptTarget(server, [box], { settleMs: 50, maxMs: 500 }).delivered(), MaildirReadError);
  await assert.rejects(new ExternalTarget(server, [], [box]).delivered(), MaildirReadError);
  await assert.rejects(new ExternalTarget(server, [], [box]).deliveredIds(), MaildirReadError);
});

test("a target the toolkit started whose queue cannot be counted is read once its mailboxes settle; one whose queue counts is read at once", async () => {
  const calls: Array<[number, number]> = [];
  const fake = (queueObservable: boolean): Target =>
    ({
      queueObservable,
      delivered: async () => [],
      flushQueue: async () => {},
      queueSize: async () => 0,
      settleMailboxes: async (settleMs: number, maxMs: number) => {
        calls.push([settleMs, maxMs]);
        return { settled: true, waitedMs: 0 };
      },
    }) as unknown as Target;
  await managedScriptTarget(fake(false), null).delivered();
  assert.deepEqual(calls, [[DEFAULT_SETTLE_MS, 30_000]], "an unobservable queue: the mailboxes settle first");
  await managedScriptTarget(fake(true), null).delivered();
  assert.equal(calls.length, 1, "a counted queue is believed: no settle on top");
});
