// `smtpchaos report matrix`: the model and both pages from synthetic suite results and sweeps of
// two targets; a real run on the embedded target through the CLI (suites, a sweep, --save) and
// the same Markdown rebuilt with --from; bad input refused in one line with exit 2.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildMatrix, familyOf } from "../../bin/report/matrix.js";
import { matrixMarkdown } from "../../bin/report/render-md.js";
import { matrixHtml } from "../../bin/report/render-html.js";
import type { TargetRecord } from "../../bin/report/records.js";
import { buildMatrix as sweepMatrix } from "../../monkey/sweep/matrix.js";
import type { FailureResult, SweepReport } from "../../monkey/sweep/sweep.js";
import type { JudgedResult, Verdict } from "../../smtpscript/suites.js";
import type { TestStatus } from "../../smtpscript/result.js";
import { runCli, SMTPCHAOS, errorLines, hasStack } from "../cli/spawn.js";

const dir = mkdtempSync(join(tmpdir(), "smtpchaos-matrix-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function judged(key: string, verdict: Verdict, o: { reason?: string; message?: string; skip?: string } = {}): JudgedResult {
  const suite = key.slice(0, key.indexOf("/"));
  const name = key.slice(key.indexOf("/") + 1);
  const status: TestStatus = verdict === "passed" || verdict === "unexpected-pass" ? "passed" : verdict === "deviation" ? "failed" : verdict;
  const file = `/x/suites/${suite}/${suite}.smtp`;
  return {
    suite,
    key,
    verdict,
    reason: o.reason ?? null,
    result: {
      name,
      file,
      loc: { file, line: 1, column: 1 },
      status,
      durationMs: 5,
      failure: o.message !== undefined ? { message: o.message, type: verdict === "error" ? "timeout" : "expectation", loc: null, sourceLine: null } : null,
      skipReason: o.skip ?? null,
      transcripts: [],
      acceptedMessages: [],
    },
  };
}

function failure(point: string, phase: FailureResult["phase"], outcome: FailureResult["outcome"], findings: string[] = []): FailureResult {
  const role = point.startsWith("sys.") || point.startsWith("kill.") ? (point.split(".")[1] as string) : null;
  return {
    id: `${point}/${phase}/EIO`,
    point,
    role,
    call: point.split(".").pop() as string,
    stack: null,
    phase,
    failure: "EIO",
    injected: outcome === "graceful" || outcome === "findings",
    outcome,
    session: outcome === "findings" ? "ungraceful" : "tempfail",
    findings,
    confirmed: outcome === "findings" ? true : null,
    reason: outcome === "not-reached" ? "its call site was not reached" : null,
    replay: `smtpchaos monkey run --target t --fault '${point}:once=true,errno=EIO' --concurrency 1`,
    script: null,
    transcript: [],
  };
}

function sweep(target: string, results: FailureResult[], verdict: SweepReport["verdict"]): SweepReport {
  return {
    kind: "sweep",
    target,
    seed: 9,
    startedAt: "2026-12-07T10:00:00.000Z",
    durationMs: 65_000,
    budgetMs: 600_000,
    interrupted: false,
    discovered: { transactions: 3, calls: 10, sites: results.length, failureIds: results.length },
    failureIds: results,
    pairs: [],
    matrix: sweepMatrix(results),
    notInjectable: [],
    instances: 1,
    transactions: 12,
    verdict,
    notes: [],
  };
}

function record(name: string, cases: JudgedResult[] | null, sw: SweepReport | null): TargetRecord {
  return {
    name,
    ref: name,
    unavailable: null,
    suites: cases === null ? null : { kind: "suites", target: name, label: name, startedAt: "2026-12-07T09:00:00.000Z", durationMs: 12_000, expectations: null, interrupted: false, judged: cases },
    suitesError: null,
    sweep: sw,
    sweepError: null,
  };
}

const HOSTILE = "evil|<script>alert(1)</script>";

function twoTargets(): TargetRecord[] {
  const alpha = record(
    "alpha",
    [judged("rfc5321/helo.ok", "passed"), judged("rfc5321/ehlo.twice", "deviation", { reason: "refuses a second EHLO" }), judged("tls/starttls.works", "skipped", { skip: "untestable here: no TLS" }), judged(`tls/${HOSTILE}`, "passed")],
    sweep("alpha", [failure("queue.write", "dot", "graceful"), failure("queue.write", "after-250", "graceful")], "pass"),
  );
  const beta = record(
    "beta",
    [judged("rfc5321/helo.ok", "failed", { message: "expected 250, got 554 5.5.1 go away" }), judged("rfc5321/ehlo.twice", "passed"), judged("tls/starttls.works", "error", { message: "no reply within 10 s" }), judged(`tls/${HOSTILE}`, "unexpected-pass", { reason: "used to fail" })],
    sweep("beta", [failure("sys.queue.fsync", "dot", "findings", ["ungraceful at dot: connection reset after the dot"]), failure("sys.pony.fsync", "data", "graceful"), failure("kill.queue", "rcpt", "not-reached")], "findings"),
  );
  return [alpha, beta];
}

test("point families: a system call across roles, process faults together, hooks as they are", () => {
  assert.equal(familyOf("sys.queue.fsync"), "sys.*.fsync");
  assert.equal(familyOf("sys.cleanup.rename"), "sys.*.rename");
  assert.equal(familyOf("kill.queue"), "kill.*");
  assert.equal(familyOf("pause.smtpd"), "pause.*");
  assert.equal(familyOf("queue.write"), "queue.write");
  assert.equal(familyOf("lookup.recipients"), "lookup.recipients");
});

test("the model: one column per target, a cell per test-case and per point family, reasons as shared notes", () => {
  const m = buildMatrix(twoTargets(), { suites: true, sweeps: true });
  assert.deepEqual(m.columns.map((c) => c.name), ["alpha", "beta"]);
  assert.deepEqual(m.suites?.map((g) => g.suite), ["rfc5321", "tls"]);
  const row = (key: string) => m.suites?.flatMap((g) => g.rows).find((r) => r.key === key);
  const helo = row("rfc5321/helo.ok");
  assert.deepEqual(helo?.cells.map((c) => c.mark), ["good", "bad"]);
  assert.equal(helo?.cells[0]?.note, null, "a pass needs no note");
  assert.match(m.notes[(helo?.cells[1]?.note ?? 0) - 1] ?? "", /^failed: expected 250, got 554/);
  assert.deepEqual(row("rfc5321/ehlo.twice")?.cells.map((c) => c.mark), ["warn", "good"]);
  assert.deepEqual(row("tls/starttls.works")?.cells.map((c) => c.verdict), ["skipped", "error"]);
  const fsync = m.sweep?.find((r) => r.family === "sys.*.fsync");
  assert.deepEqual(fsync?.cells.map((c) => c.mark), ["none", "bad"]);
  assert.deepEqual(fsync?.cells[1] && { d: fsync.cells[1].discovered, i: fsync.cells[1].injected, g: fsync.cells[1].graceful, f: fsync.cells[1].findings }, { d: 2, i: 2, g: 1, f: 1 });
  assert.deepEqual(m.sweep?.find((r) => r.family === "kill.*")?.cells.map((c) => c.mark), ["none", "warn"]);
  assert.deepEqual(m.sweep?.find((r) => r.family === "queue.write")?.cells.map((c) => c.mark), ["good", "none"]);
  assert.deepEqual(m.columns.map((c) => c.sweep?.verdict), ["pass", "findings"]);
  assert.deepEqual(m.columns.map((c) => c.suites?.failed), [0, 3], "failed, error and unexpected pass all count as failing");
  assert.deepEqual(m.findings.map((f) => [f.target, f.id]), [["beta", "sys.queue.fsync/dot/EIO"]]);
  // --suites-only: no sweep section at all
  const only = buildMatrix(twoTargets(), { suites: true, sweeps: false });
  assert.equal(only.sweep, null);
  assert.equal(only.columns[0]?.sweep, null);
  assert.doesNotMatch(matrixMarkdown(only), /Fault sweep|PASS/);
});

test("the Markdown page: ✗ where a target failed a test-case, the sweep's findings, notes, names kept as text", () => {
  const md = matrixMarkdown(buildMatrix(twoTargets(), { suites: true, sweeps: true }));
  const line = (start: string): string => md.split("\n").find((l) => l.startsWith(start)) ?? "";
  assert.match(line("| test-case |"), /^\| test-case \| alpha \| beta \|$/);
  const helo = /^\| helo\.ok \| ✓ \| ✗ \[(\d+)\] \|$/.exec(line("| helo.ok |"));
  assert.ok(helo !== null, `helo.ok row: ${line("| helo.ok |")}`);
  assert.ok(md.includes(`\n${helo[1] as string}. failed: expected 250, got 554 5.5.1 go away\n`), "the note says how beta failed");
  assert.match(line("| ehlo.twice |"), /^\| ehlo\.twice \| ~ \[\d+\] \| ✓ \|$/);
  assert.match(line("| starttls.works |"), /^\| starttls\.works \| · \[\d+\] \| ✗ error \[\d+\] \|$/);
  assert.match(md, /known deviation: refuses a second EHLO/);
  assert.match(md, /skipped: untestable here: no TLS/);
  // sweep rows and the summary
  assert.match(line("| `sys.*.fsync` |"), /^\| `sys\.\*\.fsync` \| – \| ✗ 1\/2 !1 \|$/);
  assert.match(line("| `kill.*` |"), /^\| `kill\.\*` \| – \| ~ 0\/0 \?1 \|$/);
  assert.match(line("| `queue.write` |"), /^\| `queue\.write` \| ✓ 2\/2 \| – \|$/);
  assert.match(line("| sweep |"), /^\| sweep \| ✓ PASS \| ✗ FINDINGS \|$/);
  assert.match(line("| findings |"), /^\| findings \| 0 \| 1 \|$/);
  assert.match(line("| suites |"), /^\| suites \| ~ 2\/4 passed, 1 known deviation, 1 skipped \| ✗ 1\/4 passed, 3 failed \|$/);
  assert.match(md, /### Findings\n\n- beta `sys\.queue\.fsync\/dot\/EIO` \(confirmed on a fresh instance\): ungraceful at dot: connection reset after the dot\. Replay: `smtpchaos monkey run/);
  // a name with a table bar and a tag: one cell, no HTML
  assert.ok(md.includes("| evil\\|\\<script>alert(1)\\</script> | ✓ | ✗ unexpected pass ["), "the hostile name is escaped and stays one cell");
  assert.doesNotMatch(md, /(^|[^\\])<script>/, "every < of a name is escaped");
});

test("the HTML page: coloured cells with their reasons, self-contained, names escaped", () => {
  const html = matrixHtml(buildMatrix(twoTargets(), { suites: true, sweeps: true }));
  assert.doesNotMatch(html, /<script>alert/, "the hostile name is escaped");
  assert.match(html, /evil\|&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.doesNotMatch(html, /<script|\ssrc=|<link|@import|url\(/i, "nothing runs, nothing is loaded");
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  const helo = /<tr><td>helo\.ok<\/td>(.*?)<\/tr>/.exec(html)?.[1] ?? "";
  assert.match(helo, /^<td class="m-good" style="background:#dff5e7[^"]*">✓<\/td><td class="m-bad" style="background:#fde2e1[^"]*" title="failed: expected 250, got 554 5.5.1 go away">✗ <sup>/);
  const fsync = /<tr><td><code>sys\.\*\.fsync<\/code><\/td>(.*?)<\/tr>/s.exec(html)?.[1] ?? "";
  assert.match(fsync, /class="m-none"[^>]*>–<\/td><td class="m-bad"[^>]*title="sys\.pony\.fsync: 1\/1 graceful of 1 failure IDs\nsys\.queue\.fsync: 0\/1 graceful of 1 failure IDs, 1 with findings">✗ 1\/2 !1<\/td>/);
  assert.match(html, /<li><b>beta<\/b> <code>sys\.queue\.fsync\/dot\/EIO<\/code> \(confirmed on a fresh instance\): ungraceful at dot/);
  assert.match(html, /<li id="note-1">/);
});

test("report matrix on embedded: suites and a sweep through the CLI, saved, and the same Markdown rebuilt with --from", { timeout: 240_000 }, async () => {
  const save = join(dir, "saved");
  const md = join(dir, "m.md");
  const html = join(dir, "m.html");
  // an OpenSMTPD that is not there: its column says why instead of failing the run
  const run = await runCli(SMTPCHAOS, ["report", "matrix", "--targets", "embedded,opensmtpd", "--budget", "1m", "--seed", "5", "--save", save, "--out", `md=${md}`, "--out", `html=${html}`], { shell: "export SMTPCHAOS_OPENSMTPD_PREFIX=/nonexistent" });
  assert.equal(run.code, 0, run.stderr);
  assert.ok(existsSync(md) && existsSync(html));
  const text = readFileSync(md, "utf8");
  const line = (start: string): string => text.split("\n").find((l) => l.startsWith(start)) ?? "";
  assert.match(line("| test-case |"), /^\| test-case \| embedded \| opensmtpd \|$/);
  // the embedded target passes every shipped test-case (its expectations list none)
  for (const tc of ["helo.ok", "smuggling.lf-dot-lf", "starttls.works", "graceful.queue-write-at-data"]) assert.match(line(`| ${tc} |`), /^\| [^|]+ \| ✓ \| – \|$/, tc);
  assert.match(line("| suites |"), /^\| suites \| ✓ (\d+)\/\1 passed \| – not run \[1\] \|$/);
  assert.match(text, /\n1\. opensmtpd not run: OpenSMTPD is not installed at \/nonexistent\/usr\/sbin\/smtpd/);
  // what was saved: the index, the judged suites, the SweepReport as monkey sweep writes it
  const index = JSON.parse(readFileSync(join(save, "index.json"), "utf8")) as { targets: Array<{ name: string; unavailable: string | null; sweep: string | null }> };
  assert.deepEqual(index.targets.map((t) => [t.name, t.unavailable !== null, t.sweep]), [["embedded", false, "embedded.sweep.json"], ["opensmtpd", true, null]]);
  const saved = JSON.parse(readFileSync(join(save, "embedded.sweep.json"), "utf8")) as SweepReport;
  assert.equal(saved.kind, "sweep");
  assert.ok(saved.failureIds.length > 0);
  // the sweep rows: the embedded target's hook points with the sweep's own counts (a racy site
  // may go unreached, making the sweep inconclusive: the page must say so, not hide it)
  for (const point of ["queue.write", "lookup.recipients", "queue.fsync"]) {
    const ids = saved.failureIds.filter((f) => f.point === point);
    const graceful = ids.filter((f) => f.outcome === "graceful").length;
    const injected = ids.filter((f) => f.injected).length;
    assert.ok(ids.length > 0, `the sweep discovered ${point}`);
    const mark = ids.some((f) => f.outcome === "findings") ? "✗" : injected < ids.length ? "~" : "✓";
    const missed = ids.length - injected;
    assert.equal(line(`| \`${point}\` |`), `| \`${point}\` | ${mark} ${graceful}/${injected}${missed > 0 ? ` ?${missed}` : ""} | – |`);
  }
  const verdictMark = { pass: "✓", findings: "✗", inconclusive: "~", interrupted: "~" }[saved.verdict];
  assert.equal(line("| sweep |"), `| sweep | ${verdictMark} ${saved.verdict.toUpperCase()} | – not run [1] |`);
  assert.equal(line("| failure IDs |"), `| failure IDs | ${saved.failureIds.length} | – |`);
  assert.match(line("| seed |"), /^\| seed \| 5 \| – \|$/);
  const page = readFileSync(html, "utf8");
  assert.match(page, /<th style="text-align:center">embedded<\/th><th style="text-align:center">opensmtpd<\/th>/);
  assert.match(page, /<tr><td>helo\.ok<\/td><td class="m-good"/);
  assert.match(page, /<tr><td><code>queue\.write<\/code><\/td><td class="m-good"/);

  const again = join(dir, "again.md");
  const json = join(dir, "again.json");
  const from = await runCli(SMTPCHAOS, ["report", "matrix", "--from", save, "--out", `md=${again}`, "--out", `json=${json}`]);
  assert.equal(from.code, 0, from.stderr);
  assert.equal(readFileSync(again, "utf8"), text, "--from rebuilds the same Markdown");
  const model = JSON.parse(readFileSync(json, "utf8")) as { kind: string; columns: Array<{ name: string; sweep: { failureIds: number } | null }> };
  assert.equal(model.kind, "matrix");
  assert.equal(model.columns[0]?.sweep?.failureIds, saved.failureIds.length);
  // --from and --targets: one saved column, the sweep rows only
  const only = join(dir, "only.md");
  assert.equal((await runCli(SMTPCHAOS, ["report", "matrix", "--from", save, "--targets", "embedded", "--sweeps-only", "--out", `md=${only}`])).code, 0);
  const onlyText = readFileSync(only, "utf8");
  assert.ok(onlyText.includes(`\n${line("| `queue.write` |").replace(/ \| – \|$/, " |")}\n`), "the same sweep cell, in a column of its own");
  assert.doesNotMatch(onlyText, /opensmtpd|## Suites/);
});

test("report matrix: bad input is one line and exit 2, before anything runs", { timeout: 60_000 }, async () => {
  const md = join(dir, "bad.md");
  const bad = join(dir, "bad-index");
  writeFileSync(join(dir, "not-json.json"), "{");
  rmSync(bad, { recursive: true, force: true });
  const cases: Array<[string[], RegExp]> = [
    [["report", "matrix", "--targets", "nosuch", "--out", `md=${md}`], /^smtpchaos report matrix: --targets: unknown target "nosuch"/],
    [["report", "matrix", "--targets", "embedded", "--out", `pdf=${md}`], /^smtpchaos report matrix: --out: unknown output "pdf"/],
    [["report", "matrix", "--targets", "embedded"], /^smtpchaos report matrix: nothing to write: give --out md=FILE/],
    [["report", "matrix", "--suites-only", "--sweeps-only", "--out", `md=${md}`], /exclude each other/],
    [["report", "matrix", "--from", bad, "--out", `md=${md}`], /^smtpchaos report matrix: --from .*bad-index: index\.json: no such file/],
    [["report", "matrix", "--from", dir, "--budget", "1m", "--out", `md=${md}`], /--from runs nothing: --budget does not apply/],
    [["report", "matrix", "--targets", "embedded", "--budget", "soon", "--out", `md=${md}`], /--budget/],
    [["report", "matrix", "--targets", "embedded", "--out", `md=${join(dir, "no", "such", "dir.md")}`], /--out md .*does not exist/],
    [["report", "tables"], /^smtpchaos report: expected 'matrix', got 'tables'/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(SMTPCHAOS, args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(!hasStack(r), r.stderr);
    const lines = errorLines(r);
    assert.equal(lines.length, 1, `${args.join(" ")}: one line: ${r.stderr}`);
    assert.match(lines[0] as string, pattern);
    assert.ok(!existsSync(md), `${args.join(" ")} wrote a page`);
  }
});
