// The HTML report in a real browser: a real storm against the embedded target writes it through
// the CLI (--html), headless Chromium opens it from disk and we check that every chart drew
// something visible, that nothing was fetched and that nothing logged an error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { renderHtml } from "../../storm/html-report.js";
import { freePort } from "../../targets/process/free-port.js";
import { evaluate, toJson } from "../../storm/report.js";
import type { StormJson } from "../../storm/report.js";
import { runStorm } from "../../storm/scheduler.js";
import { DEFAULT_MIX } from "../../storm/plan.js";
import { parseThreshold } from "../../storm/thresholds.js";
import { CHROMIUM, chromiumSkip, requireChromium, visit } from "../browser.js";


function runCli(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, ["dist/bin/smtpchaos.js", "storm", ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number(err.code), out: stdout + stderr }),
    ),
  );
}

test("the HTML report of a real storm renders its charts in headless Chromium, offline", { skip: chromiumSkip, timeout: 120_000 }, async (t) => {
  requireChromium();
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-html-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const html = join(dir, "report.html");
  const json = join(dir, "report.json");
  const run = await runCli([
    "--target", "embedded", "--sessions", "10", "--duration", "2s", "--seed", "11",
    "--json", json, "--html", html,
    "--threshold", "rate(ungraceful)==0", "--threshold", "p99(banner)<1ms",
  ]);
  // The second threshold cannot pass (the embedded banner is delayed): exit 1, both files written.
  assert.equal(run.code, 1, run.out);
  const report = JSON.parse(readFileSync(json, "utf8")) as StormJson;
  assert.ok(report.accepted > 0 && report.timeline.length >= 2, `a storm that did something: ${run.out}`);

  const browser = await chromium.launch({ executablePath: CHROMIUM });
  t.after(() => browser.close());
  const { page, requests, errors } = await visit(browser, html);
  await page.screenshot({ path: join(tmpdir(), "smtpchaos-storm-report.png"), fullPage: true });

  assert.doesNotMatch(readFileSync(html, "utf8"), /NaN|undefined|Infinity/);
  assert.deepEqual(requests, [pathToFileURL(html).href], "the report loads nothing but itself");
  assert.deepEqual(errors, []);
  assert.equal(await page.locator("script").count(), 0);
  assert.match(await page.title(), /storm report: embedded/);

  for (const name of ["throughput", "concurrency", "latency", "codes", "outcomes"]) {
    const svg = page.locator(`svg[data-chart="${name}"]`);
    assert.equal(await svg.count(), 1, `${name} chart present`);
    const box = await svg.boundingBox();
    assert.ok(box !== null && box.width > 100 && box.height > 40, `${name} chart has a size: ${JSON.stringify(box)}`);
    assert.equal(await svg.getByText("no data").count(), 0, `${name} chart has data`);
  }
  // Throughput: accepted/s and completed/s lines with one vertex per second of the run.
  const lines = page.locator('svg[data-chart="throughput"] path.series');
  assert.ok((await lines.count()) >= 2);
  for (const d of await lines.evaluateAll((ps) => ps.map((p) => p.getAttribute("d") ?? ""))) {
    assert.match(d, /^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+$/, `a drawn line: ${d}`);
  }
  const concurrencyLine = await page.locator('svg[data-chart="concurrency"] path.series').boundingBox();
  assert.ok(concurrencyLine !== null && concurrencyLine.width > 100, "the concurrency line spans the run");
  // Latency: four percentile bars per phase that recorded anything, each visible.
  const phases = Object.keys(report.phases).length;
  const bars = page.locator('svg[data-chart="latency"] rect.bar');
  assert.equal(await bars.count(), phases * 4);
  for (const b of await bars.all()) {
    const box = await b.boundingBox();
    assert.ok(box !== null && box.width > 0 && box.height > 0, "a visible latency bar");
  }
  // Reply codes: at least one segment per phase with replies; outcomes: one bar per outcome seen.
  const codePhases = new Set(Object.keys(report.codes).map((k) => k.split(" ")[0]));
  assert.ok((await page.locator('svg[data-chart="codes"] rect.bar').count()) >= codePhases.size);
  const seen = Object.values(report.outcomes).filter((n) => (n ?? 0) > 0).length;
  assert.equal(await page.locator('svg[data-chart="outcomes"] rect.bar').count(), seen);
  // Thresholds: one pass, one FAIL, and the failure called out at the top.
  assert.equal(await page.locator("#thresholds .badge.pass").count(), 1);
  assert.equal(await page.locator("#thresholds .badge.fail").count(), 1);
  assert.match(await page.locator(".banner.bad").innerText(), /1 of 2 thresholds failed: p99\(banner\)<1ms/);
  assert.match(await page.locator("header").innerText(), new RegExp(`seed ${report.seed}`));
});

test("text in the report is escaped: a hostile target label stays text", { skip: chromiumSkip, timeout: 120_000 }, async (t) => {
  requireChromium();
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-html-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, "r.json");
  const run = await runCli(["--target", "embedded", "--sessions", "4", "--duration", "1s", "--json", json]);
  assert.equal(run.code, 0, run.out);
  const evil = `<script>document.title="pwned"</script><img src="http://192.0.2.1/x" onerror="x()">&"'`;
  const report = { ...(JSON.parse(readFileSync(json, "utf8")) as StormJson), target: evil };
  report.thresholds = [{ threshold: `p99(dot)<"><svg onload=alert(1)>`, actual: 1, unit: "ms", ok: true }];
  const html = join(dir, "r.html");
  writeFileSync(html, renderHtml(report));
  assert.ok(!readFileSync(html, "utf8").includes("<script"), "no raw script tag in the markup");

  const browser = await chromium.launch({ executablePath: CHROMIUM });
  t.after(() => browser.close());
  const { page, requests, errors } = await visit(browser, html);
  assert.deepEqual(requests, [pathToFileURL(html).href]);
  assert.deepEqual(errors, []);
  assert.equal(await page.title(), `storm report: ${evil}`);
  assert.equal(await page.locator("header code").first().innerText(), evil);
  assert.equal(await page.locator("img, script, main svg:not(.chart)").count(), 0);
});

test("a storm where nothing got through still renders: outcomes drawn, empty charts say so", async () => {
  const port = await freePort(); // nothing listens there
  const r = await runStorm({ target: { host: "127.0.0.1", port, rcpt: "u@x", timeoutMs: 1000 }, concurrency: 2, durationMs: 300, maxSessions: 6, mix: DEFAULT_MIX, seed: 5 });
  const report = toJson(r, `127.0.0.1:${port}`, evaluate([parseThreshold("rate(ungraceful)==0")], r.metrics));
  const html = renderHtml(report);
  assert.doesNotMatch(html, /NaN|undefined|Infinity/);
  // Only the whole-session time exists: no SMTP phase was ever reached.
  const latency = /<svg class="chart" data-chart="latency".*?<\/svg>/s.exec(html)?.[0] ?? "";
  assert.deepEqual([...latency.matchAll(/<title>(\w+) p50/g)].map((m) => m[1]), ["session"]);
  assert.match(html, /<svg class="chart" data-chart="codes"[^>]*>.*no data/);
  assert.match(html, /<title>refused: 6<\/title>/);
  assert.match(html, /class="badge fail"/);
});
