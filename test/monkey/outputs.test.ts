// The monkey's outputs: console, JSON and JUnit from one report (a test case per kind of finding,
// per crash and ledger problem, and the verdict), and through the CLI: a bad --out kind is one
// line listing the kinds, and Ctrl-C still writes the partial report to every chosen output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { MONKEY_OUTPUTS } from "../../monkey/outputs/index.js";
import { monkeyText } from "../../monkey/report.js";
import type { MonkeyReport } from "../../monkey/run.js";
import type { LedgerReport } from "../../monkey/ledger.js";
import { runCli, SMTPCHAOS, errorLines, hasStack } from "../cli/spawn.js";

interface Case {
  name: string;
  classname: string;
  failure?: { message: string; "#text"?: string };
  error?: { message: string };
  skipped?: { message: string };
}

function junitCases(xml: string): Case[] {
  assert.equal(XMLValidator.validate(xml), true, xml);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (name) => name === "testcase" }).parse(xml) as { testsuites: { testsuite: { testcase: Case[] } } };
  return doc.testsuites.testsuite.testcase;
}

const cleanLedger: LedgerReport = {
  tag: "t1", sent: 20, accepted: 20, rejected: 0, ambiguous: 0, deliveredDistinct: 20, foreign: 0, queueSize: 0,
  queueListed: true, queuedIds: 0,
  lost: 0, stuck: 0, missing: 0, bounced: 0, deliveredAndBounced: 0, duplicates: 0, deliveredAmbiguous: 0, deliveredAfterReject: 0, deliveredUnsent: 0,
  samples: { lost: [], stuck: [], missing: [], bounced: [], deliveredAndBounced: [], duplicates: [], deliveredAfterReject: [], deliveredUnsent: [] }, perFault: {}, findings: false,
};

const zero = { ok: 0, tempfail: 0, permfail: 0, ungraceful: 0, hang: 0, unreachable: 0, crash: 0 };

const passing: MonkeyReport = {
  target: "embedded", endpoint: "127.0.0.1:2525", seed: 42, plan: ["queue.write: error p=0.05 (EIO)"],
  windows: { cleanMs: 0, faultsMs: null, healMs: 0 }, startedAt: "2026-01-02T03:04:05.000Z", durationMs: 5000, interrupted: false,
  sessions: 20, outcomes: { ...zero, ok: 18, tempfail: 2 }, findings: {}, perFault: {}, points: [], inTargetFired: {}, layers: {},
  samples: [], crash: null, ledger: cleanLedger, ledgerAfterRestart: cleanLedger, queue: "observed", restartSkipped: null,
  findingCount: 0, verdict: "pass", reach: [{ point: "queue.write", mechanism: "injector", fired: 2, estimate: false, seen: 40, eligible: 40, processes: null, reached: true, reason: null }], excused: 0, excusedPerFault: {}, notes: [], layerLines: [], timeline: { step: 1, points: [] },
};

const evil = `<script>"&'\x07`;
const failing: MonkeyReport = {
  ...passing,
  outcomes: { ...zero, ok: 15, permfail: 3, ungraceful: 2 },
  findings: { "permfail-under-fault": 3, "close-without-reply": 2 },
  samples: [
    { finding: "permfail-under-fault", detail: `554 at dot while queue.write fired: ${evil}`, faults: ["queue.write"], messageId: "t1-1", transcript: "<<< 220 hi\n>>> EHLO x\n<<< 554 no" },
    { finding: "close-without-reply", detail: "server closed the connection while waiting for reply to RCPT", faults: [], messageId: null },
  ],
  crash: { description: "exit 1", at: "2026-01-02T03:04:07.000Z", fatal: "fatal: queue gone", context: ["a", "fatal: queue gone"], role: "queue", faultsBefore: [{ point: "queue.write", fired: 2, lastMsBefore: 120 }] },
  ledgerAfterRestart: { ...cleanLedger, lost: 2, duplicates: 1, samples: { ...cleanLedger.samples, lost: ["t1-4", "t1-9"], duplicates: [{ id: "t1-2", copies: 2 }] }, findings: true },
  findingCount: 9, verdict: "findings", notes: ["the target crashed: restarting it"],
};

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-monkey-outputs-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function writeAll(dir: string, r: MonkeyReport): Promise<Record<"console" | "json" | "junit", string>> {
  const chosen = MONKEY_OUTPUTS.choose({ out: ["console", "json", "junit"].map((k) => `${k}=${join(dir, k)}`) });
  assert.equal(await chosen.finish(r, "test"), true);
  return { console: readFileSync(join(dir, "console"), "utf8"), json: readFileSync(join(dir, "json"), "utf8"), junit: readFileSync(join(dir, "junit"), "utf8") };
}

test("a passing run: the report's text, its JSON, and JUnit cases that all pass", async (t) => {
  const out = await writeAll(tempDir(t), passing);
  assert.equal(out.console, monkeyText(passing) + "\n");
  // a server's reply and the MTA's log lines reach the terminal with control characters escaped
  const text = monkeyText({ ...failing, crash: { ...(failing.crash as NonNullable<MonkeyReport["crash"]>), fatal: "fatal: \x1b[2J gone", context: ["\x9b31m"] } });
  assert.match(text, /\\x07/);
  assert.match(text, /fatal line: fatal: \\x1b\[2J gone/);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(text.replace(/\x1b\[[0-9;]*m/g, ""), /[\x00-\x08\x0b-\x1f\x7f-\x9f]/, "no raw control character but the table's own colours");
  assert.deepEqual(JSON.parse(out.json), passing);
  const cases = junitCases(out.junit);
  assert.deepEqual(cases.map((c) => c.classname), ["monkey.reach", "monkey.oracle", "monkey.crash", "monkey.ledger", "monkey"]);
  assert.match(out.console, /verdict: PASS: no findings; every planned fault reached the target/);
  assert.ok(cases.every((c) => c.failure === undefined && c.error === undefined));
  assert.equal(cases.at(-1)?.name, "verdict");
});

test("findings: a failed case per kind of finding, the crash, each ledger problem, and the verdict", async (t) => {
  const cases = junitCases((await writeAll(tempDir(t), failing)).junit);
  const failed = cases.filter((c) => c.failure !== undefined).map((c) => `${c.classname} ${c.name}`);
  assert.deepEqual(failed, ["monkey.oracle permfail-under-fault", "monkey.oracle close-without-reply", "monkey.crash crash", "monkey.ledger lost", "monkey.ledger duplicates", "monkey verdict"]);
  const perm = cases.find((c) => c.name === "permfail-under-fault");
  assert.match(perm?.failure?.message ?? "", /^3 session\(s\): 554 at dot/);
  assert.ok(perm?.failure?.message.includes(evil.replace("\x07", "\\x07")), "the server's text survives, escaped");
  assert.match(perm?.failure?.["#text"] ?? "", /\[queue\.write\][\s\S]*>>> EHLO x/);
  assert.match(cases.find((c) => c.name === "lost")?.failure?.["#text"] ?? "", /t1-4 t1-9/);
  assert.equal(cases.at(-1)?.failure?.message, "9 finding(s) (replay with --seed 42)");
});

test("an interrupted run: the verdict is an error; a skipped ledger is a skipped case", async (t) => {
  const r: MonkeyReport = { ...passing, interrupted: true, verdict: "interrupted", ledger: null, ledgerAfterRestart: null, notes: ["the ledger was skipped: the toolkit cannot read this server's mailboxes (give --maildir)"] };
  const cases = junitCases((await writeAll(tempDir(t), r)).junit);
  assert.match(cases.find((c) => c.name === "verdict")?.error?.message ?? "", /^interrupted: 0 finding\(s\) so far/);
  assert.match(cases.find((c) => c.name === "ledger")?.skipped?.message ?? "", /give --maildir/);
});

test("monkey run --out: an unknown kind is one line listing the kinds, exit 2", async () => {
  const out = await runCli(SMTPCHAOS, ["monkey", "run", "--duration", "1s", "--out", "xml=m.xml"]);
  assert.equal(out.code, 2, out.stderr);
  assert.ok(!hasStack(out));
  assert.deepEqual(errorLines(out), ['smtpchaos monkey run: --out: unknown output "xml" (known: console, json, junit, html; e.g. --out json=report.json)']);
});

test("monkey run: Ctrl-C writes the partial report to every --out file", { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const file = (n: string): string => join(dir, n);
  let sent = false;
  const out = await runCli(SMTPCHAOS, ["monkey", "run", "--target", "embedded", "--duration", "60s", "--concurrency", "2", "--out", `junit=${file("m.xml")}`, "--json", file("m.json")], {
    onStdout: (text, kill) => {
      if (!sent && /control API/.test(text)) {
        sent = true;
        setTimeout(() => kill("SIGINT"), 1000);
      }
    },
  });
  assert.equal(out.code, 130, out.stderr);
  assert.match(out.stdout, /INTERRUPTED: partial report/);
  const report = JSON.parse(readFileSync(file("m.json"), "utf8")) as MonkeyReport;
  assert.equal(report.interrupted, true);
  assert.ok(report.sessions > 0);
  const verdict = junitCases(readFileSync(file("m.xml"), "utf8")).find((c) => c.name === "verdict");
  assert.match(verdict?.error?.message ?? "", /^interrupted: /);
});

test("a planned point that never fired: INCONCLUSIVE with the point and the reason, in every output", async (t) => {
  const missed = { point: "sys.queue.fsync", mechanism: "seccomp", fired: 0, estimate: false, seen: 0, eligible: 0, processes: 0, reached: false, reason: "no process of role queue called fsync" };
  const r: MonkeyReport = { ...passing, plan: [...passing.plan, "sys.queue.fsync: error p=0.1 (EIO)"], reach: [...passing.reach, missed], verdict: "inconclusive" };
  const out = await writeAll(tempDir(t), r);
  assert.match(out.console, /planned faults that never fired[\s\S]*sys\.queue\.fsync \[seccomp\]: no process of role queue called fsync/);
  assert.match(out.console, /verdict: INCONCLUSIVE: no findings, but 1 planned fault point\(s\) never fired: sys\.queue\.fsync/);
  const cases = junitCases(out.junit);
  assert.match(cases.find((c) => c.name === "reached: sys.queue.fsync")?.skipped?.message ?? "", /^not reached: no process of role queue called fsync/);
  assert.equal(cases.find((c) => c.name === "reached: queue.write")?.skipped, undefined);
  assert.match(cases.find((c) => c.name === "verdict")?.error?.message ?? "", /^INCONCLUSIVE/);
  assert.equal(JSON.parse(out.json).reach[1].reason, "no process of role queue called fsync");
});
