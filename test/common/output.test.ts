// The output contract: --out KIND[=FILE] is repeatable and takes comma lists, "-" (or no FILE)
// is stdout, the older flags are aliases, destinations are checked before the run, live events
// reach the outputs people watch, and one output that cannot write does not stop the others.
// JUnit documents parse back, whatever the strings in them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { OutputRegistry, liveOutput, readingFrom, textOutput } from "../../common/output.js";
import type { OutputKind } from "../../common/output.js";
import { junitDocument } from "../../common/junit.js";
import type { JunitCase, JunitSuite } from "../../common/junit.js";
import { UsageError } from "../../common/errors.js";
import { capture } from "./capture.js";

const kind = (name: string): OutputKind<string> => ({ name, summary: `the ${name} output`, create: (to) => textOutput(to, (r) => `${name}:${r}\n`) });
const registry = (): OutputRegistry<string> => new OutputRegistry([kind("console"), kind("json"), kind("junit")], "console");

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-output-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("--out is repeatable, aliases add outputs, and the implicit console comes first on stdout", async (t) => {
  const dir = tempDir(t);
  const chosen = registry().choose({ out: [`json=${join(dir, "r.json")}`, `junit=${join(dir, "r.xml")}`], aliases: { json: undefined } }, undefined);
  assert.deepEqual(chosen.kinds, ["console", "json", "junit"]);
  assert.equal(chosen.stdoutTaken, false);
  const { stdout } = await capture(() => chosen.finish("R", "tool"));
  assert.equal(stdout, "console:R\n");
  assert.equal(readFileSync(join(dir, "r.json"), "utf8"), "json:R\n");
  assert.equal(readFileSync(join(dir, "r.xml"), "utf8"), "junit:R\n");
  const aliased = registry().choose({ aliases: { json: join(dir, "a.json") } }, undefined);
  assert.deepEqual(aliased.kinds, ["console", "json"]);
});

test("a document on stdout moves the implicit console to stderr; --out console=FILE replaces it", async (t) => {
  const dir = tempDir(t);
  for (const out of [["json"], ["json=-"]]) {
    const chosen = registry().choose({ out }, undefined);
    assert.equal(chosen.stdoutTaken, true);
    const { stdout, stderr } = await capture(() => chosen.finish("R", "tool"));
    assert.equal(stdout, "json:R\n");
    assert.equal(stderr, "console:R\n");
  }
  const file = join(dir, "summary.txt");
  const chosen = registry().choose({ out: [`console=${file}`] }, undefined);
  assert.deepEqual(chosen.kinds, ["console"]);
  const { stdout, stderr } = await capture(() => chosen.finish("R", "tool"));
  assert.equal(stdout + stderr, "");
  assert.equal(readFileSync(file, "utf8"), "console:R\n");
});

test("bad --out requests are one-line usage errors", (t) => {
  const dir = tempDir(t);
  const refused: Array<[Parameters<OutputRegistry<string>["choose"]>[0], RegExp]> = [
    [{ out: ["xml=r.xml"] }, /^--out: unknown output "xml" \(known: console, json, junit; e\.g\. --out json=report\.json\)$/],
    [{ out: ["json="] }, /^--out json= needs a FILE \(or - for stdout\)$/],
    [{ out: ["json", "junit=-"] }, /^--out json and --out junit write to stdout: only one output may/],
    [{ out: [`json=${join(dir, "r")}`], aliases: { json: join(dir, "r") } }, /^--out json and --json both write .*\/r$/],
    [{ out: [`junit=${join(dir, "missing", "r.xml")}`] }, /^--out junit .*r\.xml: directory .*missing does not exist$/],
    [{ aliases: { json: dir } }, /^--json .*: is a directory$/],
  ];
  for (const [req, why] of refused) {
    assert.throws(
      () => registry().choose(req, undefined),
      (e: unknown) => e instanceof UsageError && why.test(e.message) && !e.message.includes("\n"),
      JSON.stringify(req),
    );
  }
});

test("outputs are started before the run: a kind can refuse what the run will be", () => {
  const picky: OutputKind<string, { mode: string }> = {
    name: "picky",
    summary: "only for mode a",
    create: (to, ctx) => {
      if (ctx.mode !== "a") throw new UsageError(`${to.flag}: not for mode ${ctx.mode}`);
      return textOutput(to, (r) => r);
    },
  };
  const reg = new OutputRegistry<string, { mode: string }>([{ ...kind("console"), create: (to) => textOutput(to, (r) => r) }, picky], "console");
  assert.doesNotThrow(() => reg.choose({ out: ["picky"] }, { mode: "a" }));
  assert.throws(() => reg.choose({ out: ["picky"] }, { mode: "b" }), /^UsageError: --out picky: not for mode b$/);
});

test("an output that cannot write says so, and the others still write", async (t) => {
  const dir = tempDir(t);
  const gone = join(dir, "gone");
  mkdirSync(gone);
  const chosen = registry().choose({ out: [`json=${join(gone, "r.json")}`, `junit=${join(dir, "r.xml")}`] }, undefined);
  rmSync(gone, { recursive: true });
  let ok = true;
  const { stderr } = await capture(async () => (ok = await chosen.finish("R", "tool")));
  assert.equal(ok, false);
  assert.match(stderr, /^tool: cannot write .*gone\/r\.json: ENOENT/m);
  assert.equal(readFileSync(join(dir, "r.xml"), "utf8"), "junit:R\n");
});

test("a comma list is several specs, except a comma inside a FILE before no kind's name", async (t) => {
  const dir = tempDir(t);
  const chosen = (out: string[]) => registry().choose({ out }, undefined).kinds;
  assert.deepEqual(chosen([`json=${join(dir, "a.json")},junit=${join(dir, "b.xml")}`]), ["console", "json", "junit"]);
  assert.deepEqual(chosen([`console=${join(dir, "c.txt")},json`]), ["console", "json"]);
  // storm and the monkey always took `--out json=run,1.json` as one file: still so
  const commaFile = join(dir, "run,1.json");
  const one = registry().choose({ out: [`json=${commaFile}`] }, undefined);
  assert.deepEqual(one.kinds, ["console", "json"]);
  await capture(() => one.finish("R", "tool"));
  assert.equal(readFileSync(commaFile, "utf8"), "json:R\n");
  assert.throws(() => registry().choose({ out: ["json,xml"] }, undefined), /^UsageError: --out: unknown output "xml"/);
});

test("lastTo gives the last document its FILE (smtpscript's --output), and needs one", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "last.xml");
  const chosen = registry().choose({ out: ["json", "junit"], lastTo: { flag: "--output", file } }, undefined);
  assert.equal(chosen.stdoutTaken, true, "json has stdout; junit went to --output's file");
  const { stdout, stderr } = await capture(() => chosen.finish("R", "tool"));
  assert.deepEqual([stdout, stderr], ["json:R\n", "console:R\n"]);
  assert.equal(readFileSync(file, "utf8"), "junit:R\n");
  assert.throws(() => registry().choose({ out: ["console"], lastTo: { flag: "--output", file } }, undefined), /^UsageError: --output needs a --out other than console$/);
  assert.throws(() => registry().choose({ out: ["junit"], lastTo: { flag: "--output", file: join(dir, "no", "x") } }, undefined), /^UsageError: --output .*: directory .* does not exist$/);
});

test("a tool names its flag: messages say --reporter and reporter", () => {
  const named = new OutputRegistry([kind("console"), kind("tap")], "console", { flag: "--reporter", noun: "reporter" });
  assert.throws(() => named.choose({ out: ["xml"] }, undefined), /^UsageError: --reporter: unknown reporter "xml" \(known: console, tap; e\.g\. --reporter tap=report\.tap\)$/);
  assert.throws(() => named.choose({ out: ["tap", "console"] }, undefined), /^UsageError: --reporter tap and --reporter console write to stdout: only one reporter may/);
});

test("live events reach a stream at once and a file at stop, before the result", async (t) => {
  const dir = tempDir(t);
  const live: OutputKind<string, void, number> = { name: "console", summary: "live", create: (to) => liveOutput(to, { event: (n) => `event ${n}\n`, result: (r) => `end ${r}\n` }) };
  const reg = new OutputRegistry<string, void, number>([live, { ...kind("json"), create: (to) => textOutput(to, (r) => `json:${r}\n`) }], "console");
  const onStdout = reg.choose({ out: [] }, undefined);
  const streamed = await capture(async () => onStdout.progress(1));
  assert.equal(streamed.stdout, "event 1\n", "written as it happens");
  const file = join(dir, "console.txt");
  const toFile = reg.choose({ out: [`console=${file}`, "json"] }, undefined);
  const { stdout } = await capture(async () => {
    toFile.progress(1);
    toFile.progress(2);
    await toFile.finish("R", "tool");
  });
  assert.equal(stdout, "json:R\n", "a document has no events");
  assert.equal(readFileSync(file, "utf8"), "event 1\nevent 2\nend R\n");
});

test("readingFrom serves a kind with another tool's result", async () => {
  const doubled = readingFrom(kind("json"), (n: number) => String(n * 2));
  const reg = new OutputRegistry<number>([{ ...kind("console"), create: (to) => textOutput(to, String) }, doubled], "console");
  const { stdout } = await capture(() => reg.choose({ out: ["json"] }, undefined).finish(21, "tool"));
  assert.equal(stdout, "json:42\n");
});

test("help lists the registered kinds", () => {
  assert.equal(registry().help("  "), "  console  the console output\n  json     the json output\n  junit    the junit output");
  assert.throws(() => new OutputRegistry([kind("json"), kind("json")], "json"), /already registered/);
  assert.throws(() => new OutputRegistry([kind("json")], "console"), /implicit output "console" is not registered/);
});

test("a JUnit document stays valid XML whatever the strings in it", () => {
  const hostile = `p99(dot)<500ms & "quoted" 'single' ]]> <!-- --> \x00\x07\x1b[31m\r\n\ttab`;
  const xml = junitDocument({
    tool: "smtpchaos <test>",
    suites: [
      {
        name: hostile,
        timeMs: 1234,
        startedAt: "2026-01-02T03:04:05.678Z",
        hostname: "[::1]:25",
        properties: { seed: 7, label: hostile, interrupted: false },
        cases: [
          { name: hostile, classname: "a.b", file: hostile, line: 3 },
          { name: "failed", classname: "a.b", failure: { message: hostile, type: "threshold", detail: `${hostile}\nsecond line` } },
          { name: "errored", classname: "a.b", error: { message: "interrupted", type: "interrupted" }, systemOut: hostile },
          { name: "skipped", classname: "a.b", skipped: hostile },
        ],
      },
    ],
  });
  assert.equal(XMLValidator.validate(xml), true);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", processEntities: true, htmlEntities: true }).parse(xml) as {
    testsuites: { tests: string; failures: string; errors: string; skipped: string; time: string; testsuite: { name: string; timestamp: string; properties: { property: Array<{ name: string; value: string }> }; testcase: Array<{ name: string; file?: string; line?: string; failure?: { message: string }; error?: unknown; skipped?: unknown }> } };
  };
  const s = doc.testsuites;
  assert.deepEqual([s.tests, s.failures, s.errors, s.skipped, s.time], ["4", "1", "1", "1", "1.234"]);
  assert.equal(s.testsuite.timestamp, "2026-01-02T03:04:05");
  // control characters are made visible; everything else survives the round trip
  const visible = hostile.replace("\x00", "\\x00").replace("\x07", "\\x07").replace("\x1b", "\\x1b");
  assert.equal(s.testsuite.name, visible);
  assert.equal(s.testsuite.testcase[0]?.name, visible);
  assert.deepEqual([s.testsuite.testcase[0]?.file, s.testsuite.testcase[0]?.line], [visible, "3"]);
  assert.equal(s.testsuite.testcase[1]?.failure?.message, visible);
  assert.deepEqual(s.testsuite.properties.property.map((p) => p.name), ["seed", "label", "interrupted"]);
});

test("a JUnit document of several suites counts them all; its time is the run's, or their sum", () => {
  const suite = (name: string, timeMs: number, cases: JunitCase[]): JunitSuite => ({ name, timeMs, properties: {}, cases });
  const suites = [suite("a.smtp", 1500, [{ name: "x", classname: "a.smtp", failure: { message: "m", type: "expectation" } }]), suite("b.smtp", 500, [{ name: "y", classname: "b.smtp" }, { name: "z", classname: "b.smtp", skipped: "" }])];
  const parse = (xml: string) => new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml) as { testsuites: { tests: string; failures: string; skipped: string; time: string; testsuite: Array<{ name: string; tests: string; time: string }> } };
  const summed = parse(junitDocument({ tool: "t", suites })).testsuites;
  assert.deepEqual([summed.tests, summed.failures, summed.skipped, summed.time], ["3", "1", "1", "2.000"]);
  assert.deepEqual(summed.testsuite.map((x) => [x.name, x.tests, x.time]), [["a.smtp", "1", "1.500"], ["b.smtp", "2", "0.500"]]);
  // test-cases run in parallel (--jobs): the run took less than their sum
  assert.equal(parse(junitDocument({ tool: "t", timeMs: 800, suites })).testsuites.time, "0.800");
});
