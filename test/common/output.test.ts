// The output contract: --out KIND[=FILE] is repeatable, "-" (or no FILE) is stdout, the older
// flags are aliases, destinations are checked before the run, and one output that cannot write
// does not stop the others. JUnit documents parse back, whatever the strings in them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { OutputRegistry, textOutput } from "../../common/output.js";
import type { OutputKind } from "../../common/output.js";
import { junitDocument } from "../../common/junit.js";
import { UsageError } from "../../common/errors.js";

const kind = (name: string): OutputKind<string> => ({ name, summary: `the ${name} output`, create: (to) => textOutput(to, (r) => `${name}:${r}\n`) });
const registry = (): OutputRegistry<string> => new OutputRegistry([kind("console"), kind("json"), kind("junit")], "console");

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-output-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Captures what a function writes to process.stdout and process.stderr. */
async function capture(fn: () => Promise<unknown>): Promise<{ stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const s of ["stdout", "stderr"] as const) {
    process[s].write = ((chunk: string | Uint8Array) => {
      out[s] += String(chunk);
      return true;
    }) as typeof process.stdout.write;
  }
  try {
    await fn();
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
  }
  return out;
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

test("help lists the registered kinds", () => {
  assert.equal(registry().help("  "), "  console  the console output\n  json     the json output\n  junit    the junit output");
  assert.throws(() => new OutputRegistry([kind("json"), kind("json")], "json"), /already registered/);
  assert.throws(() => new OutputRegistry([kind("json")], "console"), /implicit output "console" is not registered/);
});

test("a JUnit document stays valid XML whatever the strings in it", () => {
  const hostile = `p99(dot)<500ms & "quoted" 'single' ]]> <!-- --> \x00\x07\x1b[31m\r\n\ttab`;
  const xml = junitDocument({
    tool: "smtpchaos <test>",
    name: hostile,
    timeMs: 1234,
    startedAt: "2026-01-02T03:04:05.678Z",
    hostname: "[::1]:25",
    properties: { seed: 7, label: hostile, interrupted: false },
    cases: [
      { name: hostile, classname: "a.b" },
      { name: "failed", classname: "a.b", failure: { message: hostile, type: "threshold", detail: `${hostile}\nsecond line` } },
      { name: "errored", classname: "a.b", error: { message: "interrupted", type: "interrupted" }, systemOut: hostile },
      { name: "skipped", classname: "a.b", skipped: hostile },
    ],
  });
  assert.equal(XMLValidator.validate(xml), true);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", processEntities: true, htmlEntities: true }).parse(xml) as {
    testsuites: { tests: string; failures: string; errors: string; skipped: string; time: string; testsuite: { name: string; timestamp: string; properties: { property: Array<{ name: string; value: string }> }; testcase: Array<{ name: string; failure?: { message: string }; error?: unknown; skipped?: unknown }> } };
  };
  const s = doc.testsuites;
  assert.deepEqual([s.tests, s.failures, s.errors, s.skipped, s.time], ["4", "1", "1", "1", "1.234"]);
  assert.equal(s.testsuite.timestamp, "2026-01-02T03:04:05");
  // control characters are made visible; everything else survives the round trip
  const visible = hostile.replace("\x00", "\\x00").replace("\x07", "\\x07").replace("\x1b", "\\x1b");
  assert.equal(s.testsuite.name, visible);
  assert.equal(s.testsuite.testcase[0]?.name, visible);
  assert.equal(s.testsuite.testcase[1]?.failure?.message, visible);
  assert.deepEqual(s.testsuite.properties.property.map((p) => p.name), ["seed", "label", "interrupted"]);
});
