import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { validateMix, PlanStream, SESSION_KINDS } from "../../storm/plan.js";
import type { SessionPlan } from "../../storm/plan.js";
import { runStorm, isUngraceful } from "../../storm/scheduler.js";
import { shrinkFailure, shrunkScript } from "../../storm/shrink.js";
import { planToScript } from "../../storm/plan-script.js";
import { loadProgram } from "../../smtpscript/parse.js";
import { runProgram } from "../../smtpscript/runner.js";
import { startFixture } from "./fixture-server.js";

const MIX = validateMix({ weights: { basic: 3, pipelined: 1, "many-rcpts": 1 }, rcpts: { min: 1, max: 8 }, manyRcpts: { min: 5, max: 40 }, size: { min: 200, max: 3000 }, starttls: 0.3 });

function load(text: string) {
  return loadProgram("shrunk.smtp", { readFile: () => text });
}

test("a session that breaks a buggy server is shrunk to the smallest failing dialogue, written as a script that fails against it", async (t) => {
  // The bug: more than 3 recipients and the server resets the connection.
  const fx = await startFixture({ resetAboveRcpts: 3 });
  t.after(() => fx.close());
  const target = { host: "127.0.0.1", port: fx.port, rcpt: "user@test.example", timeoutMs: 3000 };
  const r = await runStorm({ target, concurrency: 4, durationMs: 5000, maxSessions: 40, mix: MIX, seed: 21 });
  assert.ok(r.metrics.count("reset") > 0, JSON.stringify(Object.fromEntries(r.metrics.outcomes)));
  const failure = r.failure;
  assert.ok(failure !== null);
  assert.ok(failure.plan.rcpts > 3);
  // The failing plan is found again from its origin alone.
  const stream = new PlanStream(MIX, failure.origin.seed, Number(failure.origin.path) + 1);
  let replayed: SessionPlan | undefined;
  for (let i = 0; i <= Number(failure.origin.path); i++) replayed = stream.next();
  assert.deepEqual(replayed, failure.plan);

  const s = await shrinkFailure({ failure, mix: MIX, target, isFailure: (o) => isUngraceful(o), timeLimitMs: 20_000 });
  assert.ok(s.reproduced);
  assert.notDeepEqual(s.plan, failure.plan, "shrinking made the plan smaller");
  assert.ok(s.shrinks > 0 && s.runs > s.shrinks);
  // Exactly the minimal shape: the plainest kind, 4 recipients, an empty body, no TLS.
  assert.deepEqual(s.plan, { kind: "basic", rcpts: 4, size: 0, transactions: 1, tls: "none", family: 4, holdMs: 0, pauseMs: 0, chunk: 0 });
  assert.equal(s.outcome, "reset");

  const text = shrunkScript(s, failure, target.rcpt, 21);
  const program = load(text);
  assert.equal(program.testCases.length, 1);
  const body = program.testCases[0]?.body ?? [];
  const rcptLines = body.filter((st) => st.kind === "writeln" && st.text.parts.join("").startsWith("RCPT"));
  assert.equal(rcptLines.length, 4);
  assert.equal(body.filter((st) => st.kind === "writeln" && st.text.parts.join("").startsWith("MAIL")).length, 1);
  const run = await runProgram(program, { server: { host: "127.0.0.1", port: fx.port }, timeoutMs: 3000 });
  const result = run.results[0];
  assert.ok(result !== undefined && result.status !== "passed", `the shrunk script fails against the buggy server: ${result?.status}`);
  // and it points at the 4th recipient
  assert.match(result.failure?.message ?? "", /reset|closed/);
  assert.match(result.failure?.sourceLine ?? "", /expect smtp ok/);

  // against a correct server, the same script passes
  const good = await startFixture();
  t.after(() => good.close());
  const ok = await runProgram(program, { server: { host: "127.0.0.1", port: good.port }, timeoutMs: 3000 });
  assert.equal(ok.results[0]?.status, "passed", JSON.stringify(ok.results[0]?.failure));
});

test("every plan kind prints as a script the parser accepts", () => {
  const mix = validateMix({
    weights: Object.fromEntries(SESSION_KINDS.map((k) => [k, 1])),
    starttls: 0.3,
    implicitTls: 0.3,
    manyRcpts: { min: 4, max: 12 },
    large: { min: "20k", max: "30k" },
    slowloris: { pauseMs: { min: 1, max: 3 }, chunk: { min: 8, max: 16 } },
  });
  const s = new PlanStream(mix, 5, 200);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const plan = s.next();
    seen.add(plan.kind);
    const text = planToScript(plan, { rcpt: "user@test.example", comments: [`plan ${JSON.stringify(plan)}`] });
    const program = load(text);
    assert.equal(program.testCases.length, 1, text);
  }
  assert.equal(seen.size, SESSION_KINDS.length);
});

test("the CLI writes the shrunk script with --shrink-out and exits 1", async (t) => {
  const fx = await startFixture({ resetAboveRcpts: 3 });
  t.after(() => fx.close());
  const dir = mkdtempSync(join(tmpdir(), "storm-shrink-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, "min.smtp");
  const mixFile = join(dir, "mix.json");
  (await import("node:fs")).writeFileSync(mixFile, JSON.stringify({ weights: { basic: 1 }, rcpts: { min: 1, max: 6 }, size: { min: 200, max: 1000 } }));
  const res = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, ["dist/bin/smtpchaos.js", "storm", "--host", "127.0.0.1", "--port", String(fx.port), "--sessions", "2", "--duration", "3s", "--max-sessions", "20", "--mix", mixFile, "--seed", "4", "--shrink-out", out, "--shrink-time", "15s", "--json", join(dir, "r.json")], (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number(err.code), out: stdout + stderr }),
    ),
  );
  assert.equal(res.code, 1, res.out);
  assert.match(res.out, /written to/);
  const script = readFileSync(out, "utf8");
  assert.equal(load(script).testCases.length, 1);
  assert.equal((script.match(/RCPT TO/g) ?? []).length, 4);
  const json = JSON.parse(readFileSync(join(dir, "r.json"), "utf8")) as { shrunk: { plan: SessionPlan }; failure: { outcome: string } };
  assert.equal(json.shrunk.plan.rcpts, 4);
  assert.equal(json.failure.outcome, "reset");
});
