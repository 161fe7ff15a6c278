// Crash forensics on a real MTA: a kill of OpenSMTPD's queue process makes the daemon exit; the
// report names the role, the fatal evidence and the faults of the seconds before, and with
// --stop-on-crash the run stops there and leaves the instance directory for inspection.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OPENSMTPD_PREFIX } from "../../targets/opensmtpd/target.js";
import { mtaAvailability, requireMta } from "../targets/helpers.js";
import { runCli, SMTPCHAOS } from "../cli/spawn.js";
import type { MonkeyReport } from "../../monkey/run.js";

const { why, skip } = mtaAvailability("opensmtpd", join(OPENSMTPD_PREFIX, "usr/sbin/smtpd"));

test("opensmtpd + monkey --stop-on-crash: the dead role, its fatal lines and the faults before it; the instance kept", { skip, timeout: 120_000 }, async (t) => {
  requireMta("opensmtpd", why);
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-crash-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, "r.json");
  const run = await runCli(SMTPCHAOS, ["monkey", "run", "--target", "opensmtpd", "--duration", "8s", "--clean", "2s", "--heal", "1s", "--concurrency", "2", "--fault", "kill.queue:once=true,interval=1s", "--stop-on-crash", "--seed", "3", "--json", json]);
  assert.equal(run.code, 1, run.stderr);
  const r = JSON.parse(readFileSync(json, "utf8")) as MonkeyReport;
  const c = r.crash;
  assert.ok(c !== null, run.stdout);
  assert.equal(c.role, "queue");
  assert.deepEqual(c.faultsBefore.map((f) => [f.point, f.fired]), [["kill.queue", 1]]);
  assert.ok((c.faultsBefore[0]?.lastMsBefore ?? Infinity) < 10_000);
  assert.ok(c.context.length > 0, "the log lines before the crash");
  const kept = c.keptDir;
  assert.ok(kept !== undefined && existsSync(kept), `kept: ${String(kept)}`);
  t.after(() => rmSync(kept, { recursive: true, force: true }));
  assert.ok(readdirSync(kept).length > 0, "the instance directory is there, with its files");
  assert.equal(r.ledger, null, "nothing was drained or reconciled");
  // the crash is seen either as the daemon's exit or as its fatal log line first
  assert.match(run.stdout, /CRASH: .*\(role queue\)/);
  assert.match(run.stdout, /\n {2}faults in the 10 s before: kill\.queue x1 \(last \d+\.\d s before\)/);
  assert.match(run.stdout, new RegExp(`instance directory kept: ${kept}`));
});
