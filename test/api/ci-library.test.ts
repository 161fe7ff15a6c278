// The library and the plug-in API as users get them: the packed tarball installed into a scratch
// project, a toy MTA described by a target file there (its own expectations), and the example
// plug-in copied there as a package of its own. The library's verdicts must be the CLI's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installPacked, ROOT, run } from "../package/scratch.js";

const FIXTURES = join(ROOT, "test/api/fixtures/toy");
const PLUGIN = join(ROOT, "examples/plugins/smtpchaos-plugin-example");

/** Runs the installed CLI in the scratch project; the exit code, and what it printed. */
async function cli(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = join(dir, "node_modules/smtpchaos/dist/bin", args[0] === "smtpscript" ? "smtpscript.js" : "smtpchaos.js");
  const rest = args[0] === "smtpscript" ? args.slice(1) : args;
  try {
    const r = await run(process.execPath, [bin, ...rest], { cwd: dir, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

const MONKEY_EXIT: Record<string, number> = { pass: 0, findings: 1, inconclusive: 3 };

test("from the tarball: a suite judged by a target file's expectations, a storm with thresholds and a monkey run get the CLI's verdicts", { timeout: 300_000 }, async (t) => {
  const { dir } = await installPacked(t, { type: "module" });
  for (const f of ["toy-mta.mjs", "toy.target.yaml", "toy-expectations.yaml", "library-ci.mjs"]) cpSync(join(FIXTURES, f), join(dir, f));
  const lib = await run(process.execPath, ["library-ci.mjs"], { cwd: dir, maxBuffer: 16 * 1024 * 1024 }).catch((err: { stdout?: string; stderr?: string }) => assert.fail(`library-ci.mjs failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`));
  const v = JSON.parse(lib.stdout.trim().split("\n").pop() as string) as {
    suite: { ok: boolean; deviations: string[] };
    storm: { passed: boolean; thresholds: boolean[] };
    stormTooStrict: boolean;
    errors: Record<string, unknown>;
    monkey: string;
  };
  // the target file's own expectations excuse its one deviation, in the library as in suite run
  assert.deepEqual(v.suite, { ok: true, deviations: ["rfc5321/rcpt.unknown"] });
  const suite = await cli(dir, ["suite", "run", "--target", "./toy.target.yaml", "rfc5321"]);
  assert.equal(suite.code, 0, suite.stdout + suite.stderr);
  assert.match(suite.stdout, /verdict: as expected \(19 test-cases, 1 known deviations\)/);

  assert.deepEqual(v.storm, { passed: true, thresholds: [true, true] });
  assert.equal(v.stormTooStrict, false);
  const storm = await cli(dir, ["storm", "--target", "./toy.target.yaml", "--weight", "basic=1", "--sessions", "4", "--duration", "2s", "--seed", "1", "--threshold", "rate(ungraceful)==0", "--threshold", "count(accepted)>=1"]);
  assert.equal(storm.code, 0, storm.stderr);
  const strict = await cli(dir, ["storm", "--target", "./toy.target.yaml", "--weight", "basic=1", "--sessions", "4", "--duration", "1s", "--seed", "1", "--threshold", "p99(session)<1ms"]);
  assert.equal(strict.code, 1, "a failed threshold is exit 1 in the CLI, passed: false in the library");

  // typed errors, with the CLI's exit code; a closed port stops within the first sessions
  assert.deepEqual(v.errors, { badThreshold: 2, remote: true, closedPort: true, unknownTarget: true });

  const monkey = await cli(dir, ["monkey", "run", "--target", "./toy.target.yaml", "--fault", "net.reset:probability=0.05", "--duration", "4s", "--concurrency", "4", "--seed", "1"]);
  assert.equal(monkey.code, MONKEY_EXIT[v.monkey], `library verdict ${v.monkey}, CLI exit ${monkey.code}\n${monkey.stdout.slice(-2000)}`);

  // the reports a CI job uploads, written by the library as --out writes them
  assert.match(readFileSync(join(dir, "storm.xml"), "utf8"), /<testsuites[^>]*>[\s\S]*rate\(ungraceful\)==0/);
  assert.match(readFileSync(join(dir, "storm.html"), "utf8"), /^<!doctype html>/i);
  assert.match(readFileSync(join(dir, "monkey.xml"), "utf8"), /<testsuites/);
  assert.equal((JSON.parse(readFileSync(join(dir, "monkey.json"), "utf8")) as { verdict: string }).verdict, v.monkey);
});

test("from the tarball: one of each plug-in kind, from a package directory of its own, runs through the CLI", { timeout: 300_000 }, async (t) => {
  const { dir } = await installPacked(t, { type: "module" });
  cpSync(PLUGIN, join(dir, "my-plugin"), { recursive: true });
  const P = ["--plugin", "./my-plugin"];

  // help and validation come from the registries
  const help = await cli(dir, ["storm", ...P, "--help"]);
  assert.match(help.stdout, /\n {2}rset {3,}an RSET after EHLO/);
  assert.match(help.stdout, /csv +sessions by outcome as CSV/);
  assert.match(help.stdout, /memory/);
  const unknownKind = await cli(dir, ["storm", "--target", "memory", "--weight", "rset=1", "--sessions", "1", "--duration", "1s"]);
  assert.equal(unknownKind.code, 2, "without the plug-in, its target and kind are unknown");

  // target (code) + storm kind + storm output, on two worker threads (each loads the plug-in)
  const storm = await cli(dir, ["storm", ...P, "--target", "memory", "--weight", "rset=1", "--sessions", "4", "--duration", "2s", "--workers", "2", "--out", "csv=out.csv", "--threshold", "rate(ungraceful)==0", "--threshold", "count(accepted)>=1"]);
  assert.equal(storm.code, 0, storm.stderr);
  assert.match(storm.stdout + storm.stderr, /kinds: rset×\d+/);
  const csv = readFileSync(join(dir, "out.csv"), "utf8");
  assert.match(csv, /^outcome,sessions\nok,\d+\naccepted,[1-9]\d*\n$/);

  // fault layer: restart.target fires, its refusals are excused, every accepted message arrived
  const monkey = await cli(dir, ["monkey", "run", ...P, "--target", "memory", "--fault", "restart.target:probability=0.5,interval=1s", "--duration", "6s", "--seed", "3", "--out", "json=monkey.json"]);
  assert.equal(monkey.code, 0, monkey.stdout.slice(-3000));
  const report = JSON.parse(readFileSync(join(dir, "monkey.json"), "utf8")) as { verdict: string; ledger: { lost: number; accepted: number } };
  assert.equal(report.verdict, "pass");
  assert.match(monkey.stdout, /restart\.target +│ [1-9]/);

  // reporter: smtpscript and suite run both offer it
  writeFileSync(join(dir, "greets.smtp"), 'test-case name "greets" {\n  expect smtp ok\n}\ntest-case name "wrong" {\n  expect smtp permfail\n}\n');
  const script = await cli(dir, ["smtpscript", ...P, "--target", "memory", "--reporter", "dots", "greets.smtp"]);
  assert.equal(script.code, 1);
  assert.equal(script.stdout, ".F\n1/2 passed\n");

  // installed as a package, it is found by name, here through the environment
  await run("npm", ["install", "./my-plugin", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: dir });
  const byName = await cli(dir, ["storm", "--help"], { SMTPCHAOS_PLUGINS: "smtpchaos-plugin-example" });
  assert.match(byName.stdout, /\n {2}rset /);
  const broken = await cli(dir, ["storm", "--help"], { SMTPCHAOS_PLUGINS: "no-such-plugin" });
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /^smtpchaos: --plugin no-such-plugin: no such file, and no package of that name installed from /);
});
