// The monkey's HTML report in a real browser: a real run against the embedded target writes it
// through the CLI (--out html=FILE), headless Chromium opens it from disk, and the page shows
// the run's own numbers (from its JSON report), draws the faults and outcomes over time, shows
// a finding's transcript escaped, and loads nothing but itself.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { runCli, SMTPCHAOS } from "../cli/spawn.js";
import { renderMonkeyHtml } from "../../monkey/outputs/html.js";
import type { MonkeyReport } from "../../monkey/run.js";
import { CHROMIUM, chromiumSkip, requireChromium, visit } from "../browser.js";


test("monkey run --out html: faults and outcomes over time, the ledger, the replay command, in headless Chromium", { skip: chromiumSkip, timeout: 180_000 }, async (t) => {
  requireChromium();
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-monkey-html-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const html = join(dir, "monkey.html");
  const json = join(dir, "monkey.json");
  const run = await runCli(SMTPCHAOS, ["monkey", "run", "--target", "embedded", "--duration", "6s", "--clean", "1s", "--heal", "2s", "--concurrency", "3", "--fault", "queue.write:probability=0.2", "--seed", "31", "--out", `html=${html}`, "--json", json]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(readFileSync(json, "utf8")) as MonkeyReport;
  assert.ok(report.sessions > 10 && report.timeline.points.length >= 5, `a run that did something: ${report.sessions} sessions, ${report.timeline.points.length} points`);
  const fired = report.points.find((p) => p.point === "queue.write")?.fired ?? 0;
  assert.ok(fired > 0, "faults fired");
  assert.equal(report.timeline.points.reduce((a, p) => a + (p.fired["queue.write"] ?? 0), 0), fired, "the timeline accounts for every firing");
  assert.equal(report.replay, `smtpchaos monkey run --target embedded --duration 6s --clean 1s --heal 2s --concurrency 3 --fault queue.write:probability=0.2 --out html=${html} --json ${json} --seed 31`);

  const browser = await chromium.launch({ executablePath: CHROMIUM });
  t.after(() => browser.close());
  const { page, requests, errors } = await visit(browser, html);
  await page.screenshot({ path: join(tmpdir(), "smtpchaos-monkey-report.png"), fullPage: true });
  assert.deepEqual(requests, [pathToFileURL(html).href], "the report loads nothing but itself");
  assert.deepEqual(errors, []);
  assert.equal(await page.locator("script").count(), 0);
  assert.doesNotMatch(readFileSync(html, "utf8"), /NaN|undefined|Infinity/);
  assert.match(await page.title(), /monkey report: embedded/);
  // the run's numbers
  const tileValue = async (k: string): Promise<string> => page.locator(".tile", { hasText: k }).locator(".v").innerText();
  assert.equal(await tileValue("sessions"), String(report.sessions));
  assert.equal(await tileValue("faults fired"), String(fired));
  assert.equal(await tileValue("graceful 4xx"), String(report.outcomes.tempfail));
  assert.equal(await tileValue("findings"), String(report.findingCount));
  assert.match(await page.locator("#verdict").innerText(), /PASS: no findings/);
  assert.equal(await page.locator("#replay").innerText(), report.replay);
  const ledgerRow = await page.locator("#ledger tbody tr").last().locator("td").allInnerTexts();
  const l = report.ledgerAfterRestart;
  assert.ok(l !== null);
  // then bounced and lost
  assert.deepEqual(ledgerRow.slice(0, 5), ["after restart", String(l.accepted), String(l.deliveredDistinct), "0", "0"]);
  assert.match(await page.locator("#windows").innerText(), /faults\s+1 s\s+4 s/);
  // both charts drew lines across the run
  for (const name of ["faults", "sessions"]) {
    const lines = page.locator(`svg[data-chart="${name}"] path.series`);
    assert.ok((await lines.count()) >= 1, `${name} has a line`);
    const box = await lines.first().boundingBox();
    assert.ok(box !== null && box.width > 100, `${name}'s line spans the run: ${JSON.stringify(box)}`);
  }
});

test("a finding's transcript and a hostile target name stay text in the monkey's HTML report", { skip: chromiumSkip, timeout: 60_000 }, async (t) => {
  requireChromium();
  const evil = `<script>document.title="pwned"</script><img src="http://192.0.2.1/x">`;
  const zero = { ok: 0, tempfail: 0, permfail: 0, ungraceful: 0, hang: 0, unreachable: 0, crash: 0 };
  const report: MonkeyReport = {
    target: evil, endpoint: "127.0.0.1:1", seed: 1, plan: [], windows: { cleanMs: 0, faultsMs: 1000, healMs: 0 }, startedAt: "2026-12-03T00:00:00.000Z", durationMs: 1000,
    interrupted: false, sessions: 1, outcomes: { ...zero, ungraceful: 1 }, findings: { "close-without-reply": 1 }, perFault: {}, points: [], inTargetFired: {}, layers: {}, reach: [], excused: 0, excusedPerFault: {},
    samples: [{ finding: "close-without-reply", detail: "closed at DATA", faults: [], messageId: null, transcript: `<<< 354 go ahead\n>>> ${evil}` }],
    crash: null, ledger: null, ledgerAfterRestart: null, queue: "observed", restartSkipped: null, layerLines: [], timeline: { step: 1, points: [{ t: 0, window: "faults", outcomes: { ungraceful: 1 }, fired: {}, accepted: 0 }] },
    findingCount: 1, verdict: "findings", notes: [],
  };
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-monkey-html-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const html = join(dir, "r.html");
  writeFileSync(html, renderMonkeyHtml(report));
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  t.after(() => browser.close());
  const { page, requests } = await visit(browser, html);
  assert.deepEqual(requests, [pathToFileURL(html).href]);
  assert.equal(await page.title(), `monkey report: ${evil}`);
  assert.equal(await page.locator("img, script").count(), 0);
  await page.locator("#findings summary").click();
  assert.match(await page.locator("#findings pre").innerText(), /<script>document\.title="pwned"<\/script>/);
  assert.match(await page.locator("#verdict").innerText(), /FINDINGS: 1/);
});
