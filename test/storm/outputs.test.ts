// The storm's outputs: each kind writes what it should from one real storm's result (and from a
// find-limit ramp); through the CLI, --out is repeatable, a bad kind is one line listing the
// kinds, and Ctrl-C still writes the partial report to every chosen output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { STORM_OUTPUTS } from "../../storm/outputs/index.js";
import type { StormOutcome, StormRun } from "../../storm/outputs/index.js";
import { runStorm } from "../../storm/scheduler.js";
import type { StormResult } from "../../storm/scheduler.js";
import { DEFAULT_MIX } from "../../storm/plan.js";
import { evaluate, findLimitText, summaryText, toJson } from "../../storm/report.js";
import type { StormJson } from "../../storm/report.js";
import { parseThreshold } from "../../storm/thresholds.js";
import type { FindLimitResult } from "../../storm/find-limit.js";
import { startFixture } from "./fixture-server.js";
import { runCli, SMTPCHAOS, errorLines, hasStack } from "../cli/spawn.js";

interface Case {
  name: string;
  classname: string;
  failure?: { message: string };
  error?: { message: string };
}

function junitCases(xml: string): { suite: { name: string; tests: string; failures: string; errors: string }; cases: Case[] } {
  assert.equal(XMLValidator.validate(xml), true, xml);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (name) => name === "testcase" }).parse(xml) as { testsuites: { testsuite: { name: string; tests: string; failures: string; errors: string; testcase?: Case[] } } };
  const suite = doc.testsuites.testsuite;
  return { suite, cases: suite.testcase ?? [] };
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-storm-outputs-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `outcome` through the chosen outputs, each to its own file in `dir`. */
async function writeAll(dir: string, kinds: string[], outcome: StormOutcome): Promise<Record<string, string>> {
  const chosen = STORM_OUTPUTS.choose({ out: kinds.map((k) => `${k}=${join(dir, k)}`) }, { findLimit: outcome.kind === "find-limit" });
  assert.equal(await chosen.finish(outcome, "test"), true);
  return Object.fromEntries(kinds.map((k) => [k, readFileSync(join(dir, k), "utf8")]));
}

let storm: StormResult | null = null;
async function oneStorm(): Promise<StormResult> {
  if (storm !== null) return storm;
  const fx = await startFixture();
  try {
    storm = await runStorm({ target: { host: "127.0.0.1", port: fx.port, rcpt: "u@test.example", timeoutMs: 5000 }, concurrency: 3, durationMs: 400, maxSessions: 12, mix: DEFAULT_MIX, seed: 9 });
  } finally {
    await fx.close();
  }
  return storm;
}

test("each storm output writes what it should; JUnit has a test case per threshold", async (t) => {
  const dir = tempDir(t);
  const result = await oneStorm();
  const thresholds = evaluate([parseThreshold("rate(ungraceful)==0"), parseThreshold("count(accepted)>1000000"), parseThreshold('p99(dot)<1ms')], result.metrics);
  const label = `hostile <target> & "co" (127.0.0.1:1)`;
  const run: StormRun = { kind: "storm", result, label, thresholds, shrunk: null };
  const out = await writeAll(dir, ["console", "json", "html", "junit"], run);

  assert.equal(out.console, summaryText(result, label, thresholds) + "\n");
  assert.deepEqual(JSON.parse(out.json as string), JSON.parse(JSON.stringify(toJson(result, label, thresholds))));
  assert.match(out.html as string, /^<!doctype html>/i);
  assert.ok((out.html as string).includes("hostile &lt;target&gt; &amp;"), "the label is escaped in the page");

  const { suite, cases } = junitCases(out.junit as string);
  assert.equal(suite.name, `storm against ${label}`);
  assert.deepEqual(cases.map((c) => c.name), ["rate(ungraceful)==0", "count(accepted)>1000000", "p99(dot)<1ms"]);
  assert.deepEqual(cases.map((c) => c.failure !== undefined), thresholds.map((th) => !th.ok));
  assert.match(cases[1]?.failure?.message ?? "", /^count\(accepted\)>1000000 failed: actual \d+$/);
  assert.equal(suite.failures, String(thresholds.filter((th) => !th.ok).length));
});

test("storm JUnit: a shrunk failure is a failed case; an interrupted run is an error", async (t) => {
  const dir = tempDir(t);
  const result = { ...(await oneStorm()), interrupted: true };
  const shrunk = { reproduced: true, plan: { kind: "basic", rcpts: 4 }, outcome: "reset", shrinks: 3, runs: 9, file: "min.smtp" };
  const out = await writeAll(dir, ["junit", "json"], { kind: "storm", result, label: "x", thresholds: [], shrunk });
  const { suite, cases } = junitCases(out.junit as string);
  assert.deepEqual(cases.map((c) => [c.name, c.failure !== undefined, c.error !== undefined]), [
    ["first failed session", true, false],
    ["run", false, true],
  ]);
  assert.match(cases[0]?.failure?.message ?? "", /min\.smtp/);
  assert.equal(suite.errors, "1");
  const json = JSON.parse(out.json as string) as StormJson;
  assert.equal(json.interrupted, true);
  assert.deepEqual(json.shrunk, shrunk);
});

test("find-limit outputs: console table, JSON steps, one JUnit case for the load shedding; no HTML", async (t) => {
  const dir = tempDir(t);
  const step = { level: 10, sessions: 40, accepted: 30, failed: 10, errorRate: 0.25, p99Ms: 80, tempfail: 0, replies421: 0, replies451: 0, ungraceful: 10, outcomes: { ok: 30, reset: 10 }, dropped: 0, degraded: true, reason: "25.0% failed" };
  const result: FindLimitResult = { model: "closed", steps: [step], breakingPoint: 10, lastGood: null, shedding: "ungraceful", baselineMs: 20, recoveryMs: 150, interrupted: false };
  const out = await writeAll(dir, ["console", "json", "junit"], { kind: "find-limit", result, label: "embedded (127.0.0.1:1)", seed: 4 });
  assert.equal(out.console, findLimitText(result, "embedded (127.0.0.1:1)") + "\n");
  assert.deepEqual(JSON.parse(out.json as string), { target: "embedded (127.0.0.1:1)", seed: 4, findLimit: result });
  const { cases } = junitCases(out.junit as string);
  assert.equal(cases.length, 1);
  assert.match(cases[0]?.failure?.message ?? "", /breaking point 10, load shed ungraceful/);
  const graceful = await writeAll(dir, ["junit"], { kind: "find-limit", result: { ...result, shedding: "graceful" }, label: "x", seed: 4 });
  assert.equal(junitCases(graceful.junit as string).cases[0]?.failure, undefined);
  assert.throws(() => STORM_OUTPUTS.choose({ out: ["html=r.html"] }, { findLimit: true }), /--out html: no HTML report for --find-limit/);
});

test("storm --out: an unknown kind is one line listing the kinds, exit 2, before any traffic", async () => {
  const fx = await startFixture();
  try {
    const out = await runCli(SMTPCHAOS, ["storm", "--port", String(fx.port), "--duration", "1s", "--out", "json=r.json", "--out", "xml=r.xml"]);
    assert.equal(out.code, 2, out.stderr);
    assert.ok(!hasStack(out));
    assert.deepEqual(errorLines(out), ['smtpchaos storm: --out: unknown output "xml" (known: console, json, html, junit; e.g. --out json=report.json)']);
    assert.equal(fx.sessions.v4, 0);
  } finally {
    await fx.close();
  }
});

test("storm --out json (stdout) --out junit=FILE: a clean JSON document on stdout, the summary on stderr", async (t) => {
  const dir = tempDir(t);
  const fx = await startFixture();
  try {
    const xml = join(dir, "r.xml");
    const out = await runCli(SMTPCHAOS, ["storm", "--port", String(fx.port), "--sessions", "2", "--duration", "500ms", "--seed", "3", "--threshold", "rate(ungraceful)==0", "--out", "json", "--out", `junit=${xml}`]);
    assert.equal(out.code, 0, out.stderr);
    const json = JSON.parse(out.stdout) as StormJson;
    assert.equal(json.seed, 3);
    assert.match(out.stderr, /storm against 127\.0\.0\.1:\d+: \d+ sessions/);
    assert.deepEqual(junitCases(readFileSync(xml, "utf8")).cases.map((c) => c.name), ["rate(ungraceful)==0"]);
  } finally {
    await fx.close();
  }
});

test("Ctrl-C writes the partial report to every --out file (and --json/--html still work)", async (t) => {
  const dir = tempDir(t);
  const fx = await startFixture();
  try {
    const file = (n: string): string => join(dir, n);
    let sent = false;
    const out = await runCli(
      SMTPCHAOS,
      ["storm", "--port", String(fx.port), "--sessions", "2", "--duration", "60s", "--threshold", "rate(ungraceful)==0", "--out", `junit=${file("r.xml")}`, "--out", `console=${file("summary.txt")}`, "--json", file("r.json"), "--html", file("r.html")],
      {
        onStdout: (text, kill) => {
          if (!sent && /concurrent sessions/.test(text)) {
            sent = true;
            setTimeout(() => kill("SIGINT"), 700);
          }
        },
      },
    );
    assert.equal(out.code, 130, out.stderr);
    assert.equal(out.stdout, "", "the console output went to its file");
    assert.match(readFileSync(file("summary.txt"), "utf8"), /\(INTERRUPTED: partial results\)/);
    assert.equal((JSON.parse(readFileSync(file("r.json"), "utf8")) as StormJson).interrupted, true);
    assert.match(readFileSync(file("r.html"), "utf8"), /^<!doctype html>/i);
    const { cases } = junitCases(readFileSync(file("r.xml"), "utf8"));
    assert.deepEqual(cases.map((c) => [c.name, c.error !== undefined]), [
      ["rate(ungraceful)==0", false],
      ["run", true],
    ]);
  } finally {
    await fx.close();
  }
});
