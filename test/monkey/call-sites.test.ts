// Call sites of trapped calls, for a fault sweep that first profiles every injectable call of an
// MTA (a record rule for every role) and then fails each one on its own (a rule with the call
// site's stack hash): the hash tells two sites of the same call apart, is the same run after run
// with ASLR on, and a rule with a stack takes only the calls made from that site.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SECCOMP_BIN, ShimControl, posixPattern, seccompCommand, seccompInstalled, type ShimEvent, type ShimRule } from "../../targets/process/syscall-shim.js";
import { compileFixture, fixtureSource, nativeWhy } from "./fixtures/native.js";
import { launch, supervisorsUnder, tempDir } from "./seccomp-helpers.js";

const why = seccompInstalled() ? nativeWhy() : `${SECCOMP_BIN} missing (run 'npm run setup:mtas')`;
const skip = why !== null && process.env.CI === undefined ? why : false;

function requireFixtures(): void {
  if (why !== null) throw new Error(`the seccomp supervisor and gcc are required in CI: ${why}`);
}

/** a record rule for every role: each eligible call becomes an event with its role and call site */
const profile = (call: ShimRule["call"]): ShimRule => ({ point: `sys.*.${call}`, role: "*", call, schedule: { kind: "always" }, actions: [{ action: "record", weight: 1 }], errno: 5, latency: null, limit: null });

/** call site -> events */
function bySite(events: readonly ShimEvent[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of events) out.set(e.stack, (out.get(e.stack) ?? 0) + 1);
  return out;
}

interface Profile {
  sites: ShimEvent[];
  cat: ShimEvent[];
  results: string[];
  fn: string;
}

test("call sites: a rule for every role and a stack hash, as the control file holds them", async (t) => {
  const dir = tempDir(t);
  const ctl = await ShimControl.create(join(dir, "ctl"), "master", [{ name: "w", pattern: "w" }]);
  ctl.setRules(1, [{ ...profile("write"), stack: 0xdeadbeef }]);
  const rule = readFileSync(ctl.path).subarray(12288, 12288 + 192);
  assert.deepEqual([rule.readUInt32LE(0), rule.readUInt32LE(36), rule.readUInt32LE(52)], [0xffffffff, 2, 0xdeadbeef], "role ANY, action record, stack");
  assert.throws(() => ctl.setRules(1, [{ ...profile("write"), stack: -1 }]), /stack -1 is not a call site/);
  assert.throws(() => ctl.setRules(1, [{ ...profile("write"), role: "nobody" }]), /no role "nobody"/);
});

test("call sites: two sites of write have two stack hashes, the same run after run, and a rule with one fails only its calls", { skip, timeout: 120_000 }, async (t) => {
  requireFixtures();
  const dir = tempDir(t);
  const bin = compileFixture("two-sites.c", dir);
  const roles = [
    { name: "sites", pattern: posixPattern("two-sites") },
    { name: "cat", pattern: posixPattern("^cat( |$)") },
  ];
  let runs = 0;
  // the shell (master) runs the fixture (role sites) into cat (role cat), which writes to our pipe
  const run = async (rules: readonly ShimRule[]): Promise<{ ctl: ShimControl; out: Profile }> => {
    const n = ++runs;
    const ctl = await ShimControl.create(join(dir, `ctl-${n}`), "shell", roles);
    ctl.setRules(1, rules);
    const file = join(dir, `results-${n}`);
    const r = await launch(ctl.path, ["write"], ["sh", "-c", `'${bin}' '${file}' 5 | cat`]);
    assert.equal(r.status, 0);
    const lines = readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
    const events = ctl.drainEvents();
    assert.ok(events.every((e) => e.role === "sites" || e.role === "cat"), `each event names its process's role: ${[...new Set(events.map((e) => e.role))].join(", ")}`);
    return { ctl, out: { sites: events.filter((e) => e.role === "sites"), cat: events.filter((e) => e.role === "cat"), results: lines.slice(0, -1), fn: lines.at(-1) ?? "" } };
  };

  // (a) profiling: each pipe write of the fixture is recorded with its site, and nothing fails
  const a = (await run([profile("write")])).out;
  assert.deepEqual(a.results, Array.from({ length: 5 }, () => ["A ok", "B ok"]).flat());
  assert.equal(a.sites.length, 10, "the fixture's 10 pipe writes (not its results file's)");
  assert.ok(a.sites.every((e) => e.action === "record" && e.value === 0 && e.point === "sys.*.write"));
  const sites = bySite(a.sites);
  assert.equal(sites.size, 2, `two call sites: ${JSON.stringify([...sites])}`);
  assert.ok(!sites.has(0), "no unknown site");
  assert.deepEqual([...sites.values()], [5, 5]);
  // in call order: A, B, A, B...
  const [siteA, siteB] = a.sites.slice(0, 2).map((e) => e.stack) as [number, number];
  assert.ok(siteA !== siteB);
  assert.deepEqual(a.sites.map((e) => e.stack), Array.from({ length: 5 }, () => [siteA, siteB]).flat());
  assert.ok(a.cat.length > 0 && a.cat.every((e) => e.stack !== 0 && e.stack !== siteA && e.stack !== siteB), "cat's writes: a role and sites of their own");

  // (b) another run, at other addresses: the same two hashes
  const b = (await run([profile("write")])).out;
  assert.notEqual(b.fn, a.fn, "ASLR: the fixture's code is elsewhere");
  assert.deepEqual(b.sites.map((e) => e.stack), a.sites.map((e) => e.stack), "the same sites, by the same hashes");

  // (c) site A's writes fail, all five, and none of site B's
  const failA: ShimRule = { point: "sys.sites.write", role: "sites", call: "write", schedule: { kind: "always" }, actions: [{ action: "error", weight: 1 }], errno: 5, latency: null, limit: null, stack: siteA };
  const c = await run([failA]);
  assert.deepEqual(c.out.results, Array.from({ length: 5 }, () => ["A EIO", "B ok"]).flat());
  const [stats] = c.ctl.stats().rules;
  assert.equal(stats?.eligible, 5, "only site A's calls are eligible");
  assert.equal(stats?.fired, 5);
  assert.ok((stats?.seen ?? 0) >= 10, `site B's writes (and the results file's) were seen: ${stats?.seen}`);
  assert.deepEqual(c.out.sites.map((e) => [e.action, e.value, e.stack, e.call]), [1, 2, 3, 4, 5].map((k) => ["error", 5, siteA, k]), "each firing names its site");

  // a record rule for every role beside it: both see the calls, the record's events carry the sites
  const d = await run([profile("write"), { ...failA, stack: siteB }]);
  assert.deepEqual(d.out.results, Array.from({ length: 5 }, () => ["A ok", "B EIO"]).flat());
  assert.deepEqual(bySite(d.out.sites.filter((e) => e.action === "record")), new Map([[siteA, 5], [siteB, 5]]));
});

test("call sites: a Python thread pool's writes have known call sites", { skip, timeout: 60_000 }, async (t) => {
  requireFixtures();
  const dir = tempDir(t);
  const ctl = await ShimControl.create(join(dir, "ctl"), "pool", []);
  ctl.setRules(1, [profile("write")]);
  const r = await launch(ctl.path, ["write"], ["python3", fixtureSource("pool-writer.py"), "200"]);
  assert.equal(r.status, 0);
  assert.equal(r.stdout.length, 200, "a record fails nothing");
  const events = ctl.drainEvents();
  assert.equal(events.length, 200);
  assert.ok(events.every((e) => e.role === "pool" && e.stack !== 0), "every worker's write has a site");
  const sites = bySite(events);
  assert.ok(sites.size <= 8, `one line of Python on four threads: a few sites at most (${JSON.stringify([...sites])})`);
});

test("call sites: a process the supervisor may not trace gets site 0, and its calls go on", { skip: skip || (process.getuid?.() !== 0 ? "needs root (to run the launcher as nobody)" : false), timeout: 60_000 }, async (t) => {
  requireFixtures();
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const ctl = await ShimControl.create(join(dir, "ctl"), "py", []);
  // opens need no channel check (which needs /proc too): each is eligible, traceable or not
  ctl.setRules(1, [profile("open"), { ...profile("open"), point: "sys.py.open", role: "py", actions: [{ action: "error", weight: 1 }], stack: 12345 }]);
  const marker = join(dir, "marker");
  writeFileSync(marker, "");
  // not dumpable: a supervisor of another uid without CAP_SYS_PTRACE may not read its stack
  const py = `import ctypes, os\nos.close(os.open(${JSON.stringify(marker)}, 0))\nctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\nfor i in range(3): os.close(os.open(${JSON.stringify(marker)}, 0))\nprint("done")`;
  // the launcher itself as nobody (its supervisor too)
  const r = spawnSync("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", ...seccompCommand(ctl.path, ["open"]), "python3", "-c", py], { encoding: "utf8", timeout: 30_000 });
  for (let i = 0; i < 100 && supervisorsUnder(dir).length > 0; i++) await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual([r.status, r.stdout], [0, "done\n"], `no call failed or hung: ${r.stderr}`);
  const opens = ctl.drainEvents().filter((e) => e.role === "py");
  assert.ok(opens.length >= 4, `${opens.length} opens recorded`);
  assert.ok(opens.slice(0, -3).some((e) => e.stack !== 0), "a site while it could be traced");
  assert.deepEqual(opens.slice(-3).map((e) => e.stack), [0, 0, 0], "then unknown");
  assert.equal(ctl.stats().rules[1]?.eligible, 0, "an unknown site is no rule's site");
});
