// Every registered storm kind, whatever file it came from: drawn from a mix of only itself, it
// runs clean against the embedded MTA, and its smtpscript rendering passes against it too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KINDS, SESSION_KINDS, kindUnit } from "../../storm/kinds/index.js";
import { PlanStream, validateMix, DEFAULT_MIX } from "../../storm/plan.js";
import { Metrics } from "../../storm/metrics.js";
import { runSession } from "../../storm/session.js";
import { planToScript } from "../../storm/plan-script.js";
import { loadProgram } from "../../smtpscript/parse.js";
import { runProgram } from "../../smtpscript/runner.js";
import { startNamedTarget } from "../../targets/registry.js";
import { startRawServer } from "../smtp/raw-server.js";

test("the kinds come from the registry: names unique, basic first, every section in the mix schema", () => {
  assert.equal(KINDS[0]?.name, "basic");
  assert.equal(new Set(SESSION_KINDS).size, SESSION_KINDS.length);
  for (const k of KINDS) if (k.section !== undefined) assert.ok(k.section.key in DEFAULT_MIX, `${k.name}: section ${k.section.key}`);
  assert.throws(() => kindUnit("no-such-kind"), /unknown session kind "no-such-kind" \(basic, /);
  assert.throws(() => validateMix({ weights: { "no-such-kind": 1 } }), /unknown session kind/);
});

test("every kind runs clean against the embedded MTA, and so does its smtpscript rendering", async (t) => {
  const started = await startNamedTarget("embedded");
  t.after(() => started.stop());
  const { host, port, tlsPort } = started.endpoint;
  const rcpt = started.mailboxes[0] as string;
  for (const k of KINDS) {
    const mix = validateMix({ weights: { [k.name]: 1 }, size: { min: 200, max: 2000 }, rcpts: { min: 1, max: 2 }, transactions: { min: 1, max: 2 }, large: { min: "100k", max: "200k" }, manyRcpts: { min: 3, max: 5 }, hold: { min: 20, max: 50 }, slowloris: { pauseMs: { min: 1, max: 2 }, chunk: { min: 16, max: 32 } }, starttls: 0.5 });
    const plans = new PlanStream(mix, 3);
    for (let i = 0; i < 3; i++) {
      const plan = plans.next();
      assert.equal(plan.kind, k.name);
      const m = new Metrics();
      const outcome = await runSession(plan, { host, port, rcpt, timeoutMs: 10_000, ...(tlsPort !== undefined ? { tlsPort } : {}) }, m);
      assert.ok(outcome === "ok" || (outcome === "aborted" && k.name.startsWith("abort")), `${k.name} ${JSON.stringify(plan)}: ${outcome}`);
      const text = planToScript(plan, { rcpt, comments: [] });
      const run = await runProgram(loadProgram(`${k.name}.smtp`, { readFile: () => text }), { server: { host, port }, timeoutMs: 10_000 });
      assert.equal(run.results[0]?.status, "passed", `${k.name} script:\n${text.slice(0, 2000)}\n${JSON.stringify(run.results[0]?.failure)}`);
    }
  }
});

test("garbage kind: its reply counts under garbage; a 5xx then a close is closed-after-refusal (RFC 5321 7.8), a close without the 5xx stays ungraceful", async (t) => {
  const serve = (refuse: boolean) =>
    startRawServer(async (peer) => {
      peer.send("220 raw.test ESMTP\r\n");
      const ehlo = await peer.line();
      assert.match(ehlo.text, /^EHLO /);
      peer.send("250 raw.test\r\n");
      await peer.line(); // the garbage line
      if (refuse) peer.send("500 5.5.2 syntax error, bye\r\n");
      peer.socket.end();
    });
  const mix = validateMix({ weights: { garbage: 1 } });
  const run = async (refuse: boolean): Promise<{ outcome: string; m: Metrics }> => {
    const server = await serve(refuse);
    t.after(() => server.close());
    const m = new Metrics();
    const outcome = await runSession(new PlanStream(mix, 1).next(), { host: server.host, port: server.port, rcpt: "u@test.example", timeoutMs: 5000 }, m);
    return { outcome, m };
  };
  const refused = await run(true);
  assert.equal(refused.outcome, "closed-after-refusal");
  assert.equal(refused.m.codes.get("garbage 500"), 1, "the reply is counted under garbage");
  assert.equal(refused.m.codes.get("mail 500"), undefined, "not under mail");
  assert.equal(refused.m.ungraceful(), 0);
  const dropped = await run(false);
  assert.equal(dropped.outcome, "closed", "no 5xx first: the server just dropped the client");
  assert.equal(dropped.m.ungraceful(), 1);
});
