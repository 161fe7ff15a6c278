// sys.<role>.<call>: the seccomp supervisor beside real processes. It decides with the injector's
// own streams (the same calls fire as injector.preview says, run after run), delays or fails the
// calls it is told to on every thread of every process of a role, whatever the program is written
// in, and a delay at one role of an MTA makes the other side time out: Postfix's smtpd answers 451
// when cleanup's status write comes after ipc_timeout (and the message, which cleanup had
// committed, is delivered all the same).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SECCOMP_BIN, SHIM_CALLS, ShimControl, posixPattern, seccompCommand, seccompInstalled, type ShimCall, type ShimRole, type ShimRule } from "../../targets/process/syscall-shim.js";
import { POSTFIX_DAEMON_DIR, type PostfixTarget } from "../../targets/postfix/target.js";
import { OPENSMTPD_PREFIX, type OpenSmtpdTarget } from "../../targets/opensmtpd/target.js";
import { ShimChannel } from "../../monkey/real/syscalls.js";
import { mtaAvailability, requireMta } from "../targets/helpers.js";
import { attempt, injectorFor, wiredTarget } from "./real-helpers.js";
import { compileFixture, fixtureSource, nativeWhy } from "./fixtures/native.js";
import { launch, tempDir } from "./seccomp-helpers.js";

const seccompWhy = seccompInstalled() ? null : `${SECCOMP_BIN} missing (run 'npm run setup:mtas')`;
const seccompSkip = seccompWhy !== null && process.env.CI === undefined ? seccompWhy : false;
/** the tests that build native fixtures also need gcc (and a static libc) */
const fixtureWhy = seccompWhy ?? nativeWhy();
const fixtureSkip = fixtureWhy !== null && process.env.CI === undefined ? fixtureWhy : false;

function requireSeccomp(why: string | null): void {
  if (why !== null) throw new Error(`the seccomp supervisor is required in CI: ${why}`);
}

/** 300 lines, one write(2) each, from a shell whose stdout is a pipe (an internal channel). */
function writerScript(n = 300): string[] {
  return ["sh", "-c", `i=1; while [ $i -le ${n} ]; do echo $i; i=$((i+1)); done`];
}

function ruleFrom(point: string, spec: Record<string, unknown>, seed: number, roles: readonly string[]): { rule: ShimRule; injector: ReturnType<typeof injectorFor> } {
  const injector = injectorFor({ [point]: spec }, seed);
  const [rule] = new ShimChannel(roles, () => null).rules(injector.specs());
  return { rule: rule as ShimRule, injector };
}

/** the 1-based calls the injector's stream fails among n */
function previewCalls(injector: ReturnType<typeof injectorFor>, point: string, n: number): number[] {
  return injector.preview(point, n).flatMap((d, i) => (d === null ? [] : [i + 1]));
}

/** whether an ELF64 binary names a program interpreter (PT_INTERP): a static one does not */
function hasInterpreter(bin: string): boolean {
  const b = readFileSync(bin);
  const phoff = Number(b.readBigUInt64LE(0x20));
  const size = b.readUInt16LE(0x36);
  for (let i = 0; i < b.readUInt16LE(0x38); i++) if (b.readUInt32LE(phoff + i * size) === 3) return true;
  return false;
}

async function control(dir: string, name: string, master: string, roles: readonly ShimRole[] = []): Promise<ShimControl> {
  return ShimControl.create(join(dir, name), master, roles);
}

test("syscall shim: a target file's role patterns as POSIX extended regular expressions", () => {
  assert.equal(posixPattern("exim4 -C \\S+ -q"), "exim4 -C \\S+ -q", "glibc knows \\S");
  assert.equal(posixPattern("run-\\d+ (?:a|b) [\\d.]"), "run-[0-9]+ (a|b) [0-9.]");
  assert.throws(() => posixPattern("x(?=y)"), /lookaround/);
  assert.throws(() => posixPattern("\\bfoo\\1"), /cannot match \\1/);
});

test("seccomp: the call names and the launcher's argv prefix", () => {
  assert.deepEqual(SHIM_CALLS.slice(0, 6), ["write", "read", "fsync", "rename", "open", "connect"], "the first six keep their numbers");
  assert.deepEqual(seccompCommand("/x/ctl", ["write", "rename"]), [SECCOMP_BIN, "/x/ctl", "write,rename", "--"]);
  assert.throws(() => seccompCommand("/x/ctl", ["chmod" as ShimCall]), /unknown call "chmod"/);
});

test("seccomp launcher: bad arguments and a wrong control file fail with 127 and say why, before the command runs", { skip: seccompSkip }, async (t) => {
  requireSeccomp(seccompWhy);
  const dir = tempDir(t);
  const ctl = await control(dir, "ctl", "m");
  const marker = join(dir, "ran");
  const run = (args: string[]): { status: number | null; err: string } => {
    const r = spawnSync(SECCOMP_BIN, args, { encoding: "utf8" });
    return { status: r.status, err: r.stderr };
  };
  const touch = ["sh", "-c", `touch '${marker}'`];
  assert.match(run([ctl.path, "write"]).err, /usage: smtpchaos-seccomp CTLFILE CALLS -- COMMAND/);
  const bad = run([ctl.path, "write,chmod", "--", ...touch]);
  assert.equal(bad.status, 127);
  assert.match(bad.err, /unknown call "chmod"/);
  assert.match(run([join(dir, "none"), "write", "--", ...touch]).err, /control file .*none: No such file/);
  const junk = join(dir, "junk");
  writeFileSync(junk, Buffer.alloc(1 << 20));
  assert.match(run([junk, "write", "--", ...touch]).err, /wrong magic/);
  const old = Buffer.from(readFileSync(ctl.path));
  old.writeUInt32LE(1, 4);
  writeFileSync(junk, old);
  const v1 = run([junk, "write", "--", ...touch]);
  assert.equal(v1.status, 127);
  assert.match(v1.err, /version 1, this supervisor reads version 4/);
  assert.throws(() => readFileSync(marker), /ENOENT/, "the command never ran");
  const missing = run([ctl.path, "write", "--", join(dir, "no-such-command")]);
  assert.equal(missing.status, 127);
  assert.match(missing.err, /no-such-command: No such file/);
});

test("seccomp: the calls that fail are the injector's own decisions, and replay from the seed", { skip: seccompSkip }, async (t) => {
  requireSeccomp(seccompWhy);
  const dir = tempDir(t);
  const run = async (seed: number): Promise<{ calls: number[]; lines: number; expected: number[] }> => {
    const ctl = await control(dir, `ctl-${seed}`, "writer");
    const { rule, injector } = ruleFrom("sys.writer.write", { probability: 0.2, action: "error" }, seed, ["writer"]);
    ctl.setRules(seed, [rule]);
    const r = await launch(ctl.path, ["write"], writerScript());
    const calls = ctl.drainEvents().map((e) => {
      assert.equal(e.role, "writer");
      assert.equal(e.action, "error");
      assert.equal(e.value, 5, "EIO unless the plan pins another errno");
      return e.call;
    });
    const [stats] = ctl.stats().rules;
    assert.deepEqual({ ...stats, seen: 0 }, { point: "sys.writer.write", seen: 0, eligible: 300, procs: 1, fired: calls.length });
    // the shell reports each failed echo on stderr (/dev/null: no channel): trapped, not eligible
    assert.ok((stats?.seen ?? 0) >= 300 + calls.length, `seen ${stats?.seen}`);
    return { calls, lines: r.stdout.length, expected: previewCalls(injector, "sys.writer.write", 300) };
  };
  const a = await run(2026);
  assert.ok(a.calls.length > 30 && a.calls.length < 100, `about a fifth of 300 calls fail: ${a.calls.length}`);
  assert.deepEqual(a.calls, a.expected, "the same calls as the injector's preview");
  assert.equal(a.lines, 300 - a.calls.length, "each failed write lost its line");
  assert.deepEqual((await run(2026)).calls, a.calls, "the same seed: the same calls");
  assert.notDeepEqual((await run(2027)).calls, a.calls, "another seed: other calls");
});

test("seccomp: a delay sleeps inside the call; files and the roles nothing matches are left alone", { skip: seccompSkip }, async (t) => {
  requireSeccomp(seccompWhy);
  const dir = tempDir(t);
  const ctl = await control(dir, "ctl", "writer", [{ name: "other", pattern: posixPattern("^cat( |$)") }]);
  const { rule } = ruleFrom("sys.writer.write", { every: 100, latency: "200ms" }, 1, ["writer", "other"]);
  ctl.setRules(1, [rule, { ...rule, point: "sys.other.write", role: "other" }]);
  const { stdout, ms } = await launch(ctl.path, ["write"], writerScript());
  assert.equal(stdout.length, 300, "a delay loses nothing");
  assert.ok(ms >= 550, `3 delays of 200 ms: ${ms} ms`);
  const ev = ctl.drainEvents();
  assert.deepEqual(ev.map((e) => [e.point, e.call, e.action, e.value]), [100, 200, 300].map((c) => ["sys.writer.write", c, "delay", 200]));
  // writes to a file are not the writer's channels: trapped, nothing is eligible
  const toFile = await launch(ctl.path, ["write"], ["sh", "-c", `i=1; while [ $i -le 50 ]; do echo $i; i=$((i+1)); done > '${join(dir, "out")}'`]);
  assert.equal(toFile.status, 0);
  assert.equal(readFileSync(join(dir, "out"), "utf8").split("\n").length, 51);
  const stats = ctl.stats();
  assert.deepEqual(stats.rules[0], { point: "sys.writer.write", seen: 350, eligible: 300, procs: 1, fired: 3 }, "the file's writes were seen, not counted");
  assert.deepEqual(stats.rules[1], { point: "sys.other.write", seen: 0, eligible: 0, procs: 0, fired: 0 }, "no process matched the other role");
  assert.equal(stats.attached.writer, 2, "each launcher's own process is the master");
  assert.equal(stats.attached.other, 0);
});

test("seccomp: a C program's writes from a second thread fail at the seed's calls", { skip: fixtureSkip }, async (t) => {
  requireSeccomp(fixtureWhy);
  const dir = tempDir(t);
  const bin = compileFixture("thread-writer.c", dir, { libs: ["-lpthread"] });
  const run = async (seed: number): Promise<{ calls: number[]; lines: number; expected: number[] }> => {
    const ctl = await control(dir, `ctl-${seed}`, "writer");
    const { rule, injector } = ruleFrom("sys.writer.write", { probability: 0.25, action: "error" }, seed, ["writer"]);
    ctl.setRules(seed, [rule]);
    const r = await launch(ctl.path, ["write"], [bin, "400"]);
    assert.equal(r.status, 0);
    const calls = ctl.drainEvents().map((e) => e.call);
    assert.deepEqual(ctl.stats().rules[0], { point: "sys.writer.write", seen: 400, eligible: 400, procs: 1, fired: calls.length });
    return { calls, lines: r.stdout.length, expected: previewCalls(injector, "sys.writer.write", 400) };
  };
  const a = await run(7);
  assert.ok(a.calls.length > 60 && a.calls.length < 140, `about a quarter of 400: ${a.calls.length}`);
  assert.deepEqual(a.calls, a.expected, "one thread makes the calls: exactly the injector's decisions");
  assert.equal(a.lines, 400 - a.calls.length, "each failed write lost its line");
  assert.deepEqual((await run(7)).calls, a.calls, "the same seed: the same calls");
});

test("seccomp: a Python thread pool's writes fail at about the planned rate", { skip: fixtureSkip }, async (t) => {
  requireSeccomp(fixtureWhy);
  const dir = tempDir(t);
  const ctl = await control(dir, "ctl", "pool");
  const { rule } = ruleFrom("sys.pool.write", { probability: 0.3, action: "error" }, 5, ["pool"]);
  ctl.setRules(5, [rule]);
  const r = await launch(ctl.path, ["write"], ["python3", fixtureSource("pool-writer.py"), "600"]);
  assert.equal(r.status, 0);
  const [stats] = ctl.stats().rules;
  assert.equal(stats?.eligible, 600, "every worker's writes to the pipe");
  const fired = stats?.fired ?? 0;
  assert.ok(fired >= 0.3 * 600 - 60 && fired <= 0.3 * 600 + 60, `about 30% of 600 failed: ${fired}`);
  assert.equal(r.stdout.length, 600 - fired, "each failed write lost its line");
  assert.equal(ctl.drainEvents().length, fired);
});

test("seccomp: a static binary's renames (rename and raw renameat2) fail with the errno at the injector's calls", { skip: fixtureSkip }, async (t) => {
  requireSeccomp(fixtureWhy);
  const dir = tempDir(t);
  const bin = compileFixture("renamer.c", dir, { static: true });
  assert.ok(!hasInterpreter(bin), "no program interpreter: nothing to preload into");
  const files = join(dir, "files");
  spawnSync("mkdir", [files]);
  const ctl = await control(dir, "ctl", "renamer");
  const { rule, injector } = ruleFrom("sys.renamer.rename", { probability: 0.3, action: "error", errno: "EIO" }, 3, ["renamer"]);
  ctl.setRules(3, [rule]);
  const r = await launch(ctl.path, ["rename", "write"], [bin, files, "200"]);
  assert.equal(r.status, 0, r.stderr);
  const failed = r.stdout.filter((l) => l.startsWith("fail "));
  assert.ok(failed.every((l) => l.endsWith(" 5")), "EIO");
  const calls = failed.map((l) => Number(l.split(" ")[1]));
  assert.deepEqual(calls, previewCalls(injector, "sys.renamer.rename", 200), "exactly the injector's choices");
  assert.ok(calls.some((c) => c <= 100) && calls.some((c) => c > 100), "among rename(3)'s and renameat2's alike");
  assert.deepEqual(ctl.stats().rules[0], { point: "sys.renamer.rename", seen: 200, eligible: 200, procs: 1, fired: calls.length });
  // any errno, not only the transient ones
  const other = await control(dir, "ctl-exdev", "renamer");
  other.setRules(4, [{ ...rule, schedule: { kind: "once", at: 2 }, errno: 18 }]);
  const again = await launch(other.path, ["rename"], [bin, files, "3"]);
  assert.deepEqual(again.stdout, ["ok 1", "fail 2 18", "ok 3"]);
});

test("seccomp: a role whose processes never make the call shows nothing seen", { skip: seccompSkip }, async (t) => {
  requireSeccomp(seccompWhy);
  const dir = tempDir(t);
  const ctl = await control(dir, "ctl", "shell", [{ name: "cat", pattern: posixPattern("^cat( |$)") }]);
  const base: ShimRule = { point: "sys.cat.rename", role: "cat", call: "rename", schedule: { kind: "always" }, actions: [{ action: "error", weight: 1 }], errno: 5, latency: null, limit: null };
  ctl.setRules(1, [base, { ...base, point: "sys.cat.write", call: "write", schedule: { kind: "probability", p: 0 } }]);
  const r = await launch(ctl.path, ["write", "rename"], ["sh", "-c", "seq 1 20 | cat"]);
  assert.equal(r.stdout.length, 20);
  const stats = ctl.stats();
  assert.deepEqual(stats.rules[0], { point: "sys.cat.rename", seen: 0, eligible: 0, procs: 0, fired: 0 }, "cat never renames");
  assert.ok((stats.rules[1]?.seen ?? 0) > 0 && stats.rules[1]?.fired === 0, "cat was there, writing");
  assert.equal(stats.attached.cat, 1);
});

test("seccomp: a fork without exec keeps its parent's role; a changed process title is matched live", { skip: fixtureSkip }, async (t) => {
  requireSeccomp(fixtureWhy);
  const dir = tempDir(t);
  const bin = compileFixture("retitle.c", dir);
  const everyFifth = (point: string, role: string): ShimRule => ({ point, role, call: "write", schedule: { kind: "every", n: 5, offset: 5 }, actions: [{ action: "error", weight: 1 }], errno: 5, latency: null, limit: null });
  // the shell (master) execs retitle (role parent), which forks a child titled "kid": a parent's
  const inherit = await control(dir, "ctl-inherit", "shell", [{ name: "parent", pattern: posixPattern("retitle inherit") }]);
  inherit.setRules(1, [everyFifth("sys.parent.write", "parent"), everyFifth("sys.shell.write", "shell")]);
  const a = await launch(inherit.path, ["write"], ["sh", "-c", `'${bin}' inherit 50; true`]);
  assert.equal(a.status, 0);
  assert.equal(a.stdout.length, 40, "every 5th of the kid's 50 writes failed");
  let stats = inherit.stats();
  assert.deepEqual(stats.rules[0], { point: "sys.parent.write", seen: 50, eligible: 50, procs: 1, fired: 10 });
  assert.equal(stats.rules[1]?.seen, 0, "not the master's");
  assert.equal(stats.attached.parent, 2, "retitle and its kid");
  assert.equal(new Set(inherit.drainEvents().map((e) => e.pid)).size, 1);
  // retitle is the master; its fork has no role until it retitles itself "worker-7"
  const live = await control(dir, "ctl-live", "master", [{ name: "worker", pattern: posixPattern("^worker-\\d+$") }]);
  live.setRules(1, [everyFifth("sys.worker.write", "worker"), everyFifth("sys.master.write", "master")]);
  const b = await launch(live.path, ["write"], [bin, "live", "20", "30"]);
  assert.equal(b.status, 0);
  assert.equal(b.stdout.filter((l) => l.startsWith("before ")).length, 20, "a fork of the master matching nothing has no role");
  assert.equal(b.stdout.filter((l) => l.startsWith("after ")).length, 24, "every 5th of 30 failed once the title matched");
  stats = live.stats();
  assert.deepEqual(stats.rules[0], { point: "sys.worker.write", seen: 30, eligible: 30, procs: 1, fired: 6 });
  assert.equal(stats.rules[1]?.seen, 0, "the master itself never writes");
  assert.deepEqual([stats.attached.master, stats.attached.worker], [1, 1]);
});

const pf = mtaAvailability("postfix", join(POSTFIX_DAEMON_DIR, "master"));

test("postfix + sys.cleanup.write delayed past ipc_timeout: smtpd times out and answers 451, not a hang", { skip: pf.skip || seccompSkip, timeout: 90_000 }, async (t) => {
  requireMta("postfix", pf.why);
  requireSeccomp(seccompWhy);
  const w = wiredTarget<PostfixTarget>("postfix", { main: { ipc_timeout: "3s" }, mayFire: ["sys.cleanup.write"] });
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

test("opensmtpd + sys.queue.write: the queue's imsg writes are delayed at the seed's calls, run after run", { skip: os.skip || seccompSkip, timeout: 120_000 }, async (t) => {
  requireMta("opensmtpd", os.why);
  requireSeccomp(seccompWhy);
  const run = async (seed: number): Promise<{ fired: number[]; eligible: number; expected: number[]; slowest: number }> => {
    const w = wiredTarget<OpenSmtpdTarget>("opensmtpd", { mayFire: ["sys.queue.write"] });
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
