import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLValidator } from "fast-xml-parser";
import { ExpectationsError, asReported, judge, listSuites, loadExpectations, staleDeviations } from "../../smtpscript/suites.js";
import type { TestResult } from "../../smtpscript/result.js";
import { OPENSMTPD_PREFIX } from "../../targets/opensmtpd/target.js";
import { POSTFIX_DAEMON_DIR } from "../../targets/postfix/target.js";
import { mtaAvailability, requireMta } from "../targets/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "smtpchaos-suites-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function result(file: string, name: string, status: TestResult["status"]): TestResult {
  return {
    name,
    file,
    loc: { file, line: 1, column: 1 },
    status,
    durationMs: 1,
    failure: status === "failed" || status === "error" ? { message: "x", type: status === "failed" ? "expectation" : "timeout", loc: null, sourceLine: null } : null,
    skipReason: status === "skipped" ? "why" : null,
    transcripts: [],
    acceptedMessages: [],
  };
}

function cli(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, ["dist/bin/smtpchaos.js", "suite", ...args], { maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number(err.code), out: stdout + stderr }),
    ),
  );
}

test("the shipped suites are all there", () => {
  assert.deepEqual(
    listSuites().map((s) => s.name),
    ["graceful", "limits", "pipelining", "rfc5321", "smuggling", "tls"],
  );
});

test("judging: listed failures are deviations, listed passes are unexpected, unlisted failures stay failures", () => {
  const f = join(dir, "exp.yaml");
  writeFileSync(f, 'deviations:\n  s/known-fail: "documented"\n  s/known-error: "handshake fails"\n  s/now-passes: "was broken"\n  s/renamed: "gone"\n  s/harness: "hides a harness error"\n');
  const exp = loadExpectations(f);
  const results = [
    result("/x/s/a.smtp", "known-fail", "failed"),
    result("/x/s/a.smtp", "known-error", "error"),
    result("/x/s/a.smtp", "now-passes", "passed"),
    result("/x/s/a.smtp", "new-failure", "failed"),
    result("/x/s/a.smtp", "fine", "passed"),
    result("/x/s/a.smtp", "skipped", "skipped"),
    { ...result("/x/s/a.smtp", "harness", "error"), failure: { message: "expect delivered needs a toolkit-managed target", type: "script", loc: null, sourceLine: null } },
  ];
  const judged = judge(results, exp);
  assert.deepEqual(
    judged.map((j) => [j.key, j.verdict]),
    [
      ["s/known-fail", "deviation"],
      ["s/known-error", "deviation"],
      ["s/now-passes", "unexpected-pass"],
      ["s/new-failure", "failed"],
      ["s/fine", "passed"],
      ["s/skipped", "skipped"],
      ["s/harness", "error"],
    ],
  );
  const reported = asReported(judged);
  // an ERROR of the harness is never a deviation of the MTA, and the report says why
  assert.equal(reported[6]?.status, "error");
  assert.match(reported[6]?.failure?.message ?? "", /ERROR of the harness, which an expectations file never excuses/);
  assert.equal(reported[0]?.status, "skipped");
  assert.match(reported[0]?.skipReason ?? "", /known deviation: documented/);
  assert.equal(reported[2]?.status, "failed");
  assert.match(reported[2]?.failure?.message ?? "", /behaviour changed/);
  assert.deepEqual(staleDeviations(judged, exp, ["s"]), ["s/renamed"]);
});

test("expectations files are validated with the file named", () => {
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "deviations:\n  no-slash: reason\n");
  assert.throws(() => loadExpectations(bad), (e: unknown) => e instanceof ExpectationsError && e.message.includes("bad.yaml") && /not "suite\/test-case"/.test(e.message));
  writeFileSync(bad, "deviations:\n  s/t: ''\n");
  assert.throws(() => loadExpectations(bad), /needs a reason/);
  assert.equal(loadExpectations(join(dir, "missing.yaml")).deviations.size, 0);
  writeFileSync(bad, "deviations: {}\nuntestable:\n  graceful/x: libfiu cannot count\n");
  assert.equal(loadExpectations(bad).untestable.get("graceful/x"), "libfiu cannot count");
  writeFileSync(bad, "untestable:\n  nope: reason\n");
  assert.throws(() => loadExpectations(bad), /untestable key "nope" is not "suite\/test-case"/);
  // anything but a mapping of the documented sections would expect nothing: refused
  for (const [text, got] of [["just a string\n", /got a string/], ["", /got an empty document/], ["- a\n", /got a list/], [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x1b, 0x5b, 0x32, 0x4a, 0x07]), /got a string/]] as const) {
    writeFileSync(bad, text);
    assert.throws(() => loadExpectations(bad), (e: unknown) => e instanceof ExpectationsError && e.message.includes("bad.yaml") && got.test(e.message), String(got));
  }
  writeFileSync(bad, "deviations: {}\ndeviatons:\n  s/t: typo\n");
  assert.throws(() => loadExpectations(bad), /bad\.yaml: unknown section "deviatons"/);
});

test("every suite is green against the embedded target, and the JUnit report is valid", async () => {
  const junit = join(dir, "embedded.xml");
  const r = await cli(["run", "--target", "embedded", "--reporter", `junit=${junit}`]);
  assert.equal(r.code, 0, r.out);
  for (const s of ["graceful", "limits", "pipelining", "rfc5321", "smuggling", "tls"]) assert.match(r.out, new RegExp(`│ ${s}\\s+│ [1-9]`), `${s} passed nothing:\n${r.out}`);
  assert.match(r.out, /verdict: as expected/);
  assert.equal(XMLValidator.validate(readFileSync(junit, "utf8")), true);
});

test("an unknown suite or a bad flag is a usage error", async () => {
  assert.equal((await cli(["run", "--target", "embedded", "nosuch"])).code, 2);
  assert.equal((await cli(["run"])).code, 2);
});

for (const [name, binary] of [
  ["opensmtpd", join(OPENSMTPD_PREFIX, "usr/sbin/smtpd")],
  ["postfix", join(POSTFIX_DAEMON_DIR, "master")],
] as const) {
  const { why, skip } = mtaAvailability(name, binary);
  test(`every suite is green against ${name} with its expectations file`, { skip }, async () => {
    requireMta(name, why);
    const r = await cli(["run", "--target", name]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /verdict: as expected \(\d+ test-cases, [1-9]\d* known deviations\)/);
  });
}

{
  const { why, skip } = mtaAvailability("postfix", join(POSTFIX_DAEMON_DIR, "master"));
  test("flipping Postfix's smtpd_forbid_bare_newline changes the smuggling verdict", { skip }, async () => {
    requireMta("postfix", why);
    const vulnerable = await cli(["run", "--target", "postfix", "smuggling"]);
    assert.equal(vulnerable.code, 0, vulnerable.out);
    assert.match(vulnerable.out, /│ smuggling │ 3\s+│ 3\s+│ 0\s+│ 0\s+│ 0\s+│ 0/);
    const fixed = await cli(["run", "--target", "postfix", "--postconf", "smtpd_forbid_bare_newline=yes", "--postconf", "smtpd_forbid_bare_newline_exclusions=", "smuggling"]);
    assert.equal(fixed.code, 1, fixed.out);
    assert.match(fixed.out, /│ smuggling │ 3\s+│ 0\s+│ 0\s+│ 0\s+│ 3\s+│ 0/);
    assert.match(fixed.out, /smuggling\.lf-dot-lf UNEXPECTED PASS/);
  });
}
