// The monkey's flood as a storm mix: every kind flows under faults (TLS, IPv6, pipelining,
// large, many recipients, aborts), each transaction judged by the oracle and counted by the ledger.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runMonkey } from "../../monkey/run.js";
import { validatePlan } from "../../monkey/plan.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { monkeyText } from "../../monkey/report.js";
import { mixTraffic } from "../../storm/traffic.js";
import { validateMix } from "../../storm/plan.js";
import { runCli } from "../cli/spawn.js";

test("monkey run with a storm mix: implicit TLS, STARTTLS and IPv6 sessions under queue faults, ledger exact", async () => {
  const mix = validateMix({
    weights: { basic: 3, pipelined: 2, "many-rcpts": 1, "abort-data": 1, "abort-after-dot": 1, large: 1, wellbehaved: 1, multi: 1 },
    large: { min: "100k", max: "300k" },
    manyRcpts: { min: 3, max: 8 },
    implicitTls: 0.3,
    starttls: 0.4,
    ipv6: 0.5,
  });
  const r = await runMonkey({
    seed: 5,
    concurrency: 4,
    durationMs: 20_000,
    maxSessions: 150,
    timeoutMs: 5000,
    drainTimeoutMs: 15_000,
    plan: validatePlan({ points: { "queue.write": { probability: 0.1 } } }),
    traffic: mixTraffic(mix, 5),
    createTarget: (extra) => monkeyTarget("embedded", extra),
  });
  const text = monkeyText(r);
  assert.equal(r.findingCount, 0, text);
  assert.match(text, /sessions from storm mix/);
  const connected = /sessions connected: ([^\n]+)/.exec(text)?.[1] ?? "";
  const count = (what: string): number => Number(new RegExp(`(?:^|, )${what} (\\d+)`).exec(connected)?.[1] ?? 0);
  for (const t of ["implicit-tls", "starttls", "ipv6", "ipv4"]) assert.ok(count(t) > 0, `${t} sessions in "${connected}"`);
  assert.ok((r.points.find((p) => p.point === "queue.write")?.fired ?? 0) > 0, "faults fired");
  assert.ok(r.outcomes.tempfail > 0, "and were answered with 4xx");
  const l = r.ledgerAfterRestart;
  assert.ok(l !== null && l.accepted > 50, `accepted ${l?.accepted}`);
  assert.equal(l.lost, 0);
  assert.equal(l.duplicates, 0);
  assert.equal(l.deliveredAfterReject, 0);
  assert.equal(l.deliveredUnsent, 0);
  assert.equal(l.deliveredDistinct, l.accepted + l.deliveredAmbiguous);
});

test("smtpchaos monkey run --mix storm/examples/mix.yaml: the shipped mix flows through the CLI", async () => {
  const run = await runCli("dist/bin/smtpchaos.js", ["monkey", "run", "--target", "embedded", "--mix", "storm/examples/mix.yaml", "--duration", "8s", "--concurrency", "4", "--max-sessions", "60", "--seed", "9", "--fault", "queue.write:probability=0.05", "--timeout", "10s"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /sessions from storm mix: basic 40, .*pipelined 10.*wellbehaved 15/);
  assert.match(run.stdout, /verdict: PASS/);
});

test("monkey run --mix: a bad mix file is one line and exit 2", async () => {
  const run = await runCli("dist/bin/smtpchaos.js", ["monkey", "run", "--target", "embedded", "--mix", "storm/examples/no-such.yaml", "--duration", "2s"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /--mix storm\/examples\/no-such\.yaml: no such file/);
});
