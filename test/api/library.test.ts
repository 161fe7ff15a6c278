// The public library as a user gets it: the packed tarball installed into a scratch project,
// whose node:test file (the README's example) imports "smtpchaos" and tests the embedded target.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { allPassed, listSuites, runScript, runSuite, startTarget } from "../../api/index.js";
import { installPacked, ROOT, run } from "../package/scratch.js";

test("library in-process: startTarget + runScript report a failing expectation as a result, with its location", async (t) => {
  const mta = await startTarget("embedded");
  t.after(() => mta.stop());
  const r = await runScript({ source: 'test-case name "wrong on purpose" {\n  expect smtp permfail\n}' }, mta, { seed: 5 });
  assert.equal(allPassed(r), false);
  assert.equal(r.results[0]?.status, "failed");
  assert.equal(r.results[0]?.failure?.loc?.line, 2);
  await assert.rejects(runScript({ source: "test-case {\n  bogus\n}" }, mta), /inline\.smtp:2:3/);
  await assert.rejects(runScript({ source: "test-case { }" }, { host: "10.1.2.3", port: 25 }), /not a loopback address/);
});

test("library: runSuite runs a shipped suite against a target, judged by its expectations", { timeout: 120_000 }, async (t) => {
  const mta = await startTarget("embedded");
  t.after(() => mta.stop());
  assert.ok(listSuites().some((s) => s.name === "rfc5321"));
  const r = await runSuite("rfc5321", mta, { seed: 3 });
  assert.ok(r.results.length > 5, `${r.results.length} test-cases`);
  assert.equal(r.judged.length, r.results.length);
  assert.equal(r.ok, true, JSON.stringify(r.judged.filter((j) => j.verdict === "failed" || j.verdict === "error").map((j) => [j.key, j.result.failure?.message])));
  await assert.rejects(runSuite("no-such-suite", mta), /no suite "no-such-suite" \(.*rfc5321/);
});

test("the packed package installs into a scratch project and the README's node:test example passes there", { timeout: 180_000 }, async (t) => {
  const { dir, tarball } = await installPacked(t, { type: "module" });
  assert.match(tarball, /^smtpchaos-.*\.tgz$/);
  copyFileSync(join(ROOT, "examples/library/graceful.test.mjs"), join(dir, "graceful.test.mjs"));
  // a test runner of its own, not a child reporting to ours
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = await run(process.execPath, ["--test", "--test-reporter=spec", "graceful.test.mjs"], { cwd: dir, env }).catch((err: { stdout?: string; stderr?: string }) => {
    assert.fail(`the example failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  });
  assert.match(r.stdout, /pass 2/);
  // the types are there for TypeScript users
  const types = await run(process.execPath, ["-e", "import('smtpchaos').then((m) => console.log(Object.keys(m).sort().join(',')))"], { cwd: dir });
  for (const name of ["startTarget", "runScript", "runStorm", "runMonkey", "SmtpSession"]) assert.ok(types.stdout.includes(name), types.stdout);
});
