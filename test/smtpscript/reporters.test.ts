// smtpscript's reporters are outputs on common/output.ts's contract, and `--reporter` of
// smtpscript and of suite run is read by the one KIND[=FILE] parser storm and the monkey use
// for --out. Before, smtpscript and suite run each had their own reading, and where the copies
// disagreed these tests say which behaviour won, and why.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLValidator } from "fast-xml-parser";
import { REPORTERS } from "../../smtpscript/reporters/index.js";
import { SUITE_REPORTERS } from "../../smtpscript/suite-reporters/index.js";
import type { SuiteReport } from "../../smtpscript/suite-reporters/index.js";
import type { RunResult, TestResult } from "../../smtpscript/result.js";
import { judge, asReported } from "../../smtpscript/suites.js";
import type { Expectations } from "../../smtpscript/suites.js";
import { UsageError } from "../../common/errors.js";
import { capture } from "../common/capture.js";

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "smtpscript-reporters-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const result = (name: string, status: TestResult["status"]): TestResult => ({
  name,
  file: "suites/s/a.smtp",
  loc: { file: "suites/s/a.smtp", line: 1, column: 1 },
  status,
  durationMs: 5,
  failure: status === "failed" ? { message: "expected ok (2xx), got 550 no", type: "expectation", loc: { file: "suites/s/a.smtp", line: 2, column: 3 }, sourceLine: "  expect smtp ok" } : null,
  skipReason: status === "skipped" ? "not today" : null,
  transcripts: [],
  acceptedMessages: [],
});
const RESULTS = [result("one", "passed"), result("two", "failed"), result("three", "skipped")];
const RUN: RunResult = { target: "127.0.0.1:2525", files: ["suites/s/a.smtp"], startedAt: "2026-01-02T03:04:05.678Z", durationMs: 15, results: RESULTS };
const CONTEXT = { verbose: false, color: false };

const CONSOLE =
  '====> running test-case "one" ok\n' +
  '====> running test-case "two" failed\n' +
  "      suites/s/a.smtp:2:3: expected ok (2xx), got 550 no\n" +
  "        2 | expect smtp ok\n" +
  '====> running test-case "three" skipped (not today)\n' +
  "====> all run\n" +
  "passed: 1/3 (skipped: 1, failed: 1, error: 0)\n";

/** A run through the chosen reporters: each result as it ends, then the run. */
async function report(reporter: string[], extra: { output?: string } = {}): Promise<{ stdout: string; stderr: string }> {
  const chosen = REPORTERS.choose({ out: reporter, lastTo: { flag: "--output", file: extra.output } }, CONTEXT);
  return capture(async () => {
    for (const r of RESULTS) chosen.progress(r);
    assert.equal(await chosen.finish(RUN, "smtpscript"), true);
  });
}

test("the console is the original's lines on stdout, written as each test-case ends", async () => {
  assert.deepEqual(await report([]), { stdout: CONSOLE, stderr: "" });
  const chosen = REPORTERS.choose({ out: [] }, CONTEXT);
  const first = await capture(async () => chosen.progress(RESULTS[0] as TestResult));
  assert.equal(first.stdout, '====> running test-case "one" ok\n');
});

test("a report on stdout moves the console to stderr (smtpscript used to drop it)", async () => {
  // Storm and the monkey moved their console to stderr, smtpscript dropped it: stderr won, so
  // `smtpscript -t x.smtp > x.tap` still shows people the run while the pipe gets clean TAP.
  const { stdout, stderr } = await report(["tap"]);
  assert.match(stdout, /^TAP version 13\n1\.\.3\nok 1 - one\nnot ok 2 - two\n/);
  assert.equal(stderr, CONSOLE);
});

test('"-" is stdout (smtpscript used to write a file named "-")', async () => {
  // Storm and the monkey read "-" as stdout, the usual convention; smtpscript created ./-.
  const { stdout } = await report(["junit=-"]);
  assert.equal(XMLValidator.validate(stdout), true);
  assert.equal(existsSync("-"), false);
});

test("only one report may have stdout (smtpscript used to print both, one after the other)", () => {
  // Two documents run together are neither TAP nor JSON: storm's refusal won.
  assert.throws(
    () => REPORTERS.choose({ out: ["tap", "json"] }, CONTEXT),
    (e: unknown) => e instanceof UsageError && e.message === "--reporter tap and --reporter json write to stdout: only one reporter may (give the others a FILE)",
  );
  // the console named as well as a document: also both on stdout (the document used to win silently)
  assert.throws(() => REPORTERS.choose({ out: ["console", "junit"] }, CONTEXT), /--reporter console and --reporter junit write to stdout/);
});

test("console=FILE writes the console to FILE (smtpscript ignored FILE and printed it)", async (t) => {
  const file = join(tempDir(t), "console.txt");
  const { stdout, stderr } = await report([`console=${file}`]);
  assert.deepEqual([stdout, stderr], ["", ""]);
  assert.equal(readFileSync(file, "utf8"), CONSOLE);
});

test("the same file twice and an empty FILE are refused before the run, naming --reporter", (t) => {
  const dir = tempDir(t);
  const refused: Array<[string[], RegExp]> = [
    // smtpscript let the second report overwrite the first; storm refused: refused
    [[`tap=${join(dir, "r")}`, `json=${join(dir, "r")}`], /^--reporter tap and --reporter json both write .*\/r$/],
    // smtpscript said "--reporter junit : is a directory" (the empty name was the current directory)
    [["junit="], /^--reporter junit= needs a FILE \(or - for stdout\)$/],
    // smtpscript's own list without the flag's name; now the registry's, as storm's reads
    [["xml"], /^--reporter: unknown reporter "xml" \(known: console, tap, junit, json; e\.g\. --reporter tap=report\.tap\)$/],
    [[`junit=${join(dir, "missing", "r.xml")}`], /^--reporter junit .*r\.xml: directory .*missing does not exist$/],
  ];
  for (const [out, why] of refused) {
    assert.throws(() => REPORTERS.choose({ out }, CONTEXT), (e: unknown) => e instanceof UsageError && why.test(e.message), out.join(" "));
  }
});

test("comma lists, as smtpscript took them, now everywhere; a FILE may still hold a comma", async (t) => {
  // smtpscript split every value on commas (so junit=a,b.xml was refused), storm never split:
  // a comma starts the next report unless it sits in a FILE and no reporter's name follows.
  const dir = tempDir(t);
  const { stdout } = await report([`tap,junit=${join(dir, "a,b.xml")}`]);
  assert.match(stdout, /^TAP version 13\n/);
  assert.equal(XMLValidator.validate(readFileSync(join(dir, "a,b.xml"), "utf8")), true);
});

test("--output FILE is the file of the last report other than the console, as before", async (t) => {
  const file = join(tempDir(t), "r.json");
  const { stdout, stderr } = await report(["tap", "json"], { output: file });
  assert.match(stdout, /^TAP version 13\n/);
  assert.equal(stderr, CONSOLE);
  assert.equal((JSON.parse(readFileSync(file, "utf8")) as RunResult).results.length, 3);
  assert.throws(() => REPORTERS.choose({ out: [], lastTo: { flag: "--output", file } }, CONTEXT), /^UsageError: --output needs a --reporter other than console$/);
});

const EXPECTATIONS: Expectations = { deviations: new Map([["s/two", "known to refuse"]]), untestable: new Map(), source: null };

test("suite run takes the same --reporter: a report without FILE goes to stdout (it used to need NAME=FILE)", async () => {
  // suite run refused `--reporter junit` and `--reporter console=FILE`; one rule for both
  // commands won, so `smtpchaos suite run --reporter junit | ci-tool` works as smtpscript's does.
  const judged = judge(RESULTS, EXPECTATIONS);
  const suiteReport: SuiteReport = { run: { ...RUN, results: asReported(judged) }, judged, suites: ["s"] };
  const chosen = SUITE_REPORTERS.choose({ out: ["junit"] }, { ...CONTEXT, expectations: EXPECTATIONS });
  assert.equal(chosen.stdoutTaken, true);
  const { stdout, stderr } = await capture(async () => {
    for (const j of judged) chosen.progress(j);
    await chosen.finish(suiteReport, "smtpchaos suite");
  });
  assert.equal(XMLValidator.validate(stdout), true);
  assert.match(stdout, /<testsuites name="smtpscript" tests="3" failures="0" errors="0" skipped="2"/, "the deviation is reported as a skip");
  assert.match(stderr, /^====> s\/one ok\n====> s\/two known deviation\n====> s\/three skipped \(not today\)\n/);
  assert.match(stderr, /verdict: as expected \(3 test-cases, 1 known deviations\)\n$/);
  assert.throws(() => SUITE_REPORTERS.choose({ out: ["xml=x"] }, { ...CONTEXT, expectations: EXPECTATIONS }), /^UsageError: --reporter: unknown reporter "xml" \(known: console, tap, junit, json;/);
});
