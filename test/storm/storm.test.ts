import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { PlanStream, DEFAULT_MIX, validateMix, MixError } from "../../storm/plan.js";
import { freePort } from "../../targets/process/free-port.js";
import { parseThreshold, actualValue, passes, ThresholdError } from "../../storm/thresholds.js";
import { Metrics, UNGRACEFUL } from "../../storm/metrics.js";
import { classify } from "../../storm/session.js";
import { SmtpConnectError } from "../../smtp/index.js";
import { runStorm } from "../../storm/scheduler.js";
import { assertLoopback, RemoteTargetError } from "../../common/loopback.js";
import { EmbeddedTarget } from "../../targets/embedded/target.js";
import { waitFor } from "../targets/helpers.js";

test("the same seed and mix give the same plans; another seed does not", () => {
  const a = new PlanStream(DEFAULT_MIX, 42, 50);
  const b = new PlanStream(DEFAULT_MIX, 42, 50);
  const c = new PlanStream(DEFAULT_MIX, 43, 50);
  const take = (s: PlanStream) => Array.from({ length: 120 }, () => s.next());
  const pa = take(a);
  assert.deepEqual(pa, take(b));
  assert.notDeepEqual(pa, take(c));
  const kinds = new Set(pa.map((p) => p.kind));
  assert.ok(kinds.has("basic") && kinds.size >= 3, `a varied mix: ${[...kinds].join(",")}`);
  for (const p of pa) {
    assert.ok(p.size >= DEFAULT_MIX.size.min && p.size <= DEFAULT_MIX.size.max);
    assert.equal(p.transactions > 1, p.kind === "multi");
  }
});

test("mixes are validated", () => {
  assert.throws(() => validateMix({ weights: { nonsense: 1 } }), MixError);
  assert.throws(() => validateMix({ weights: { basic: 0 } }), /every weight is 0/);
  assert.equal(validateMix({ weights: { pipelined: 1 } }).weights.pipelined, 1);
});

test("thresholds parse, evaluate and reject nonsense with the expression named", () => {
  const m = new Metrics();
  for (const v of [10, 20, 30, 400]) m.phase("dot", v);
  m.sessionStarted();
  m.sessionEnded("ok", 1);
  m.sessionStarted();
  m.sessionEnded("reset", 0);
  const p99 = parseThreshold("p99(dot)<500ms");
  assert.ok(passes(p99, actualValue(p99, m)));
  const strict = parseThreshold("p99(dot) < 100ms");
  assert.ok(!passes(strict, actualValue(strict, m)));
  const rate = parseThreshold("rate(ungraceful)==0");
  assert.equal(actualValue(rate, m), 0.5);
  assert.ok(!passes(rate, 0.5));
  assert.equal(parseThreshold("rate(ok)>=50%").value, 0.5);
  assert.equal(actualValue(parseThreshold("count(accepted)>=1"), m), 1);
  assert.throws(() => parseThreshold("p99(nothing)<1s"), (e: unknown) => e instanceof ThresholdError && /p99\(nothing\)<1s/.test(e.message));
  assert.throws(() => parseThreshold("fast please"), ThresholdError);
});

test("only loopback targets unless --allow-remote", () => {
  assertLoopback("127.0.0.1", false);
  assertLoopback("::1", false);
  assertLoopback("localhost", false);
  assert.throws(() => assertLoopback("192.0.2.10", false), RemoteTargetError);
  assert.throws(() => assertLoopback("mail.example.com", false), /--allow-remote/);
  assertLoopback("192.0.2.10", true);
});

test("a short storm against the embedded target: bounded, counted, and every accepted message delivered", async (t) => {
  const target = new EmbeddedTarget();
  t.after(() => target.stop());
  await target.start();
  const r = await runStorm({
    target: { host: "127.0.0.1", port: target.endpoint.port, rcpt: "user@test.example", timeoutMs: 10_000 },
    concurrency: 20,
    durationMs: 1500,
    mix: DEFAULT_MIX,
    seed: 7,
  });
  const m = r.metrics;
  assert.ok(m.sessions > 20, `only ${m.sessions} sessions`);
  assert.equal(m.inFlight, 0);
  assert.ok(m.maxConcurrency <= 20);
  assert.equal(m.ungraceful(), 0, JSON.stringify(Object.fromEntries(m.outcomes)));
  assert.equal(m.count("ok") + m.count("aborted"), m.sessions);
  assert.ok((m.phases.get("dot")?.count ?? 0) >= m.accepted);
  await waitFor("queue drained", async () => (await target.queueSize()) === 0);
  const delivered = await target.delivered();
  // Aborted-after-dot messages may be delivered too; accepted ones all must be.
  assert.ok(delivered.length >= m.accepted, `${delivered.length} delivered < ${m.accepted} accepted`);
});

test("a refused port is counted as refused, not a crash of the storm", async () => {
  const port = await freePort(); // nothing listens there
  const r = await runStorm({ target: { host: "127.0.0.1", port, rcpt: "u@x", timeoutMs: 1000 }, concurrency: 2, durationMs: 300, maxSessions: 10, mix: DEFAULT_MIX, seed: 1 });
  assert.equal(r.metrics.sessions, 10);
  assert.equal(r.metrics.count("refused"), 10);
});

test("the CLI refuses a remote host and a failed threshold exits 1", async () => {
  const run = (args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => execFile(process.execPath, ["dist/bin/smtpchaos.js", "storm", ...args], (err, stdout, stderr) => resolve({ code: err === null ? 0 : Number(err.code), out: stdout + stderr })));
  const remote = await run(["--host", "192.0.2.1", "--port", "25"]);
  assert.equal(remote.code, 2);
  assert.match(remote.out, /refusing to send load to 192\.0\.2\.1/);
  const fail = await run(["--target", "embedded", "--sessions", "5", "--duration", "1s", "--threshold", "count(accepted)>1000000", "--seed", "3"]);
  assert.equal(fail.code, 1, fail.out);
  assert.match(fail.out, /count\(accepted\)>1000000 .* FAIL/);
  assert.match(fail.out, /seed 3/);
});

test("the fd limit: the CLI refuses a storm the limit cannot hold and says how to raise it; EMFILE mid-run is a local outcome", async () => {
  const res = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile("bash", ["-c", `ulimit -n 256 && exec "${process.execPath}" dist/bin/smtpchaos.js storm --target embedded --sessions 1000 --duration 1s`], (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number(err.code), out: stdout + stderr }),
    ),
  );
  assert.equal(res.code, 2, res.out);
  assert.match(res.out, /1000 sessions against the in-process embedded target need about 2064 file descriptors, but the limit is 256; raise it with 'ulimit -n 3088'/);
  assert.equal(classify(new SmtpConnectError("127.0.0.1", 25, "EMFILE")), "local");
  assert.equal(classify(new SmtpConnectError("127.0.0.1", 25, "ECONNREFUSED")), "refused");
  assert.ok(!UNGRACEFUL.includes("local"));
});
