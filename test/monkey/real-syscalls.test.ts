// sys.<role>.<call>: the syscall shim inside real processes. It decides with the injector's own
// streams (the same calls fire as injector.preview says, run after run), delays or fails the
// calls it is told to, and a delay at one role of an MTA makes the other side time out: Postfix's
// smtpd answers 451 when cleanup's status write comes after ipc_timeout (and the message, which
// cleanup had committed, is delivered all the same).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHIM_LIB, ShimControl, shimEnv, shimInstalled, posixPattern, type ShimRule } from "../../targets/process/syscall-shim.js";
import { POSTFIX_DAEMON_DIR, type PostfixTarget } from "../../targets/postfix/target.js";
import { OPENSMTPD_PREFIX, type OpenSmtpdTarget } from "../../targets/opensmtpd/target.js";
import { ShimChannel } from "../../monkey/real/syscalls.js";
import { mtaAvailability, requireMta } from "../targets/helpers.js";
import { attempt, injectorFor, wiredTarget } from "./real-helpers.js";

const shimWhy = shimInstalled() ? null : `${SHIM_LIB} missing (run 'npm run setup:mtas')`;
const shimSkip = shimWhy !== null && process.env.CI === undefined ? shimWhy : false;

/** 300 lines, one write(2) each, from a shell whose stdout is a pipe (an internal channel to the shim). */
function writer(ctl: string, extraEnv: Record<string, string> = {}): { lines: number; ms: number } {
  const t0 = Date.now();
  const r = spawnSync("sh", ["-c", "i=1; while [ $i -le 300 ]; do echo $i; i=$((i+1)); done"], { env: { PATH: process.env.PATH, ...shimEnv(ctl), ...extraEnv }, stdio: ["ignore", "pipe", "ignore"] });
  return { lines: r.stdout.toString().trim().split("\n").filter((l) => l !== "").length, ms: Date.now() - t0 };
}

function ruleFrom(point: string, spec: Record<string, unknown>, seed: number): { rule: ShimRule; injector: ReturnType<typeof injectorFor> } {
  const injector = injectorFor({ [point]: spec }, seed);
  const [rule] = new ShimChannel(["writer"], () => null).rules(injector.specs());
  return { rule: rule as ShimRule, injector };
}

test("syscall shim: a target file's role patterns as POSIX extended regular expressions", () => {
  assert.equal(posixPattern("exim4 -C \\S+ -q"), "exim4 -C \\S+ -q", "glibc knows \\S");
  assert.equal(posixPattern("run-\\d+ (?:a|b) [\\d.]"), "run-[0-9]+ (a|b) [0-9.]");
  assert.throws(() => posixPattern("x(?=y)"), /lookaround/);
  assert.throws(() => posixPattern("\\bfoo\\1"), /cannot match \\1/);
});

test("syscall shim: the calls that fail are the injector's own decisions, and replay from the seed", { skip: shimSkip }, async (t) => {
  if (shimWhy !== null) throw new Error(`the syscall shim is required in CI: ${shimWhy}`);
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-shim-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (seed: number): Promise<{ calls: number[]; lines: number; expected: number[] }> => {
    const ctl = await ShimControl.create(join(dir, `ctl-${seed}`), "writer", []);
    const { rule, injector } = ruleFrom("sys.writer.write", { probability: 0.2, action: "error" }, seed);
    ctl.setRules(seed, [rule]);
    const { lines } = writer(ctl.path);
    const calls = ctl.drainEvents().map((e) => {
      assert.equal(e.role, "writer");
      assert.equal(e.action, "error");
      assert.equal(e.value, 5, "EIO unless the plan pins another errno");
      return e.call;
    });
    assert.deepEqual(ctl.stats().rules, [{ point: "sys.writer.write", eligible: 300, fired: calls.length }]);
    const expected = injector.preview("sys.writer.write", 300).flatMap((d, i) => (d === null ? [] : [i + 1]));
    return { calls, lines, expected };
  };
  const a = await run(2026);
  assert.ok(a.calls.length > 30 && a.calls.length < 100, `about a fifth of 300 calls fail: ${a.calls.length}`);
  assert.deepEqual(a.calls, a.expected, "the same calls as the injector's preview");
  assert.equal(a.lines, 300 - a.calls.length, "each failed write lost its line");
  assert.deepEqual((await run(2026)).calls, a.calls, "the same seed: the same calls");
  assert.notDeepEqual((await run(2027)).calls, a.calls, "another seed: other calls");
});

test("syscall shim: a delay sleeps inside the call; files and the roles it does not match are left alone", { skip: shimSkip }, async (t) => {
  if (shimWhy !== null) throw new Error(`the syscall shim is required in CI: ${shimWhy}`);
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-shim-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ctl = await ShimControl.create(join(dir, "ctl"), "writer", [{ name: "other", pattern: posixPattern("^cat( |$)") }]);
  const { rule } = ruleFrom("sys.writer.write", { every: 100, latency: "200ms" }, 1);
  ctl.setRules(1, [rule, { ...rule, point: "sys.other.write", role: "other" }]);
  const { lines, ms } = writer(ctl.path);
  assert.equal(lines, 300, "a delay loses nothing");
  assert.ok(ms >= 550, `3 delays of 200 ms: ${ms} ms`);
  const ev = ctl.drainEvents();
  assert.deepEqual(ev.map((e) => [e.point, e.call, e.action, e.value]), [100, 200, 300].map((c) => ["sys.writer.write", c, "delay", 200]));
  // writes to a file are not the writer's channels: nothing is eligible
  const toFile = spawnSync("sh", ["-c", `i=1; while [ $i -le 50 ]; do echo $i; i=$((i+1)); done > '${join(dir, "out")}'`], { env: { PATH: process.env.PATH, ...shimEnv(ctl.path) } });
  assert.equal(toFile.status, 0);
  const stats = ctl.stats();
  assert.equal(stats.rules[0]?.eligible, 300, "the file's writes were not counted");
  assert.equal(stats.rules[1]?.eligible, 0, "no process matched the other role");
  assert.equal(stats.attached.writer, 2, "the toolkit's own children are the master");
});

const pf = mtaAvailability("postfix", join(POSTFIX_DAEMON_DIR, "master"));

test("postfix + sys.cleanup.write delayed past ipc_timeout: smtpd times out and answers 451, not a hang", { skip: pf.skip || shimSkip, timeout: 90_000 }, async (t) => {
  requireMta("postfix", pf.why);
  if (shimWhy !== null) throw new Error(`the syscall shim is required in CI: ${shimWhy}`);
  const w = wiredTarget<PostfixTarget>("postfix", { main: { ipc_timeout: "3s" } });
  t.after(() => w.stop());
  await w.target.start();
  const port = w.target.endpoint.port;
  // cleanup's channel writes for one message in Postfix 3.7: its ready notice to the master and
  // the queue id to smtpd (at RCPT), six at the end of the data (trivial-rewrite, smtpd), the
  // 8th being the final status smtpd waits for
  const injector = injectorFor({ "sys.cleanup.write": { once: 8, latency: "6s" } }, 9);
  await w.surface.apply(injector);
  const t0 = Date.now();
  const o = await attempt(port, w.target.mailboxes[0] as string);
  const ms = Date.now() - t0;
  await w.surface.clear();
  assert.equal(o.code, 451, o.last);
  assert.match(o.last, /^dot: 451 4\.3\.0/);
  assert.ok(ms >= 2500 && ms < 5500, `smtpd gave up after ipc_timeout (3 s), before the 6 s delay ended: ${ms} ms`);
  assert.deepEqual(injector.stats().map((s) => [s.point, s.fired]), [["sys.cleanup.write", 1]]);
  // a finding, not graceful after all: cleanup had committed the message before its late status,
  // so the mail the client was told to retry is delivered (and a retry delivers it twice)
  let ids: Array<string | null> = [];
  for (let i = 0; i < 60 && !ids.includes(o.id); i++) {
    await new Promise((r) => setTimeout(r, 250));
    ids = (await w.target.deliveredIds?.())?.delivered ?? [];
  }
  assert.ok(ids.includes(o.id), "the message answered 451 was delivered");
  // after the fault, mail flows again
  const again = await attempt(port, w.target.mailboxes[0] as string);
  assert.ok(again.accepted, again.last);
});

const os = mtaAvailability("opensmtpd", join(OPENSMTPD_PREFIX, "usr/sbin/smtpd"));

test("opensmtpd + sys.queue.write: the queue's imsg writes are delayed at the seed's calls, run after run", { skip: os.skip || shimSkip, timeout: 120_000 }, async (t) => {
  requireMta("opensmtpd", os.why);
  if (shimWhy !== null) throw new Error(`the syscall shim is required in CI: ${shimWhy}`);
  const run = async (seed: number): Promise<{ fired: number[]; eligible: number; expected: number[]; slowest: number }> => {
    const w = wiredTarget<OpenSmtpdTarget>("opensmtpd", {});
    t.after(() => w.stop());
    await w.target.start();
    const injector = injectorFor({ "sys.queue.write": { probability: 0.25, latency: "150ms" } }, seed);
    await w.surface.apply(injector);
    let slowest = 0;
    for (let i = 0; i < 4; i++) {
      const t0 = Date.now();
      const o = await attempt(w.target.endpoint.port, w.target.mailboxes[0] as string);
      slowest = Math.max(slowest, Date.now() - t0);
      assert.ok(o.accepted, o.last);
    }
    const ctl = w.target.describeFaults().syscalls?.control();
    assert.ok(ctl !== null && ctl !== undefined);
    const eligible = ctl.stats().rules[0]?.eligible ?? 0;
    await w.surface.clear();
    const fired = injector.firedBetween(0, Date.now()).map((f) => f.call);
    await w.stop();
    const expected = injector.preview("sys.queue.write", eligible).flatMap((d, i) => (d === null ? [] : [i + 1]));
    return { fired, eligible, expected, slowest };
  };
  const a = await run(11);
  assert.ok(a.eligible >= 8, `the queue wrote to its channels: ${a.eligible}`);
  assert.ok(a.fired.length > 0, "some writes were delayed");
  assert.deepEqual(a.fired, a.expected, "the calls the injector's stream picks, in the queue's one process");
  assert.ok(a.slowest >= 150, `a session waited for a delayed queue: ${a.slowest} ms`);
  const b = await run(11);
  const n = Math.min(a.eligible, b.eligible);
  assert.deepEqual(b.fired.filter((c) => c <= n), a.fired.filter((c) => c <= n), "the same seed delays the same calls");
});
