// Transactions per session: the mix's `transactions` range reuses each connection for several
// messages; pipelining kinds pipeline every one of them; RSET goes only after a refused
// transaction (and always between the "multi" kind's). Checked on the wire with the fixture
// server's command log, and end to end against the embedded MTA.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { DEFAULT_MIX, PlanStream, validateMix, MixError } from "../../storm/plan.js";
import type { Mix, SessionPlan } from "../../storm/plan.js";
import { runStorm } from "../../storm/scheduler.js";
import { planToScript } from "../../storm/plan-script.js";
import { loadProgram } from "../../smtpscript/parse.js";
import { runProgram } from "../../smtpscript/runner.js";
import { startNamedTarget } from "../../targets/registry.js";
import { waitFor } from "../targets/helpers.js";
import { startFixture } from "./fixture-server.js";
import type { Fixture, LoggedCommand } from "./fixture-server.js";

const RCPT = "u@test.example";
const mixOf = (kind: string, transactions: number, extra: Record<string, unknown> = {}): Mix =>
  validateMix({ weights: { [kind]: 1 }, size: { min: 300, max: 300 }, rcpts: { min: 2, max: 2 }, transactions: { min: transactions, max: transactions }, ...extra });

async function storm(fx: Fixture, mix: Mix, sessions: number) {
  return runStorm({ target: { host: "127.0.0.1", port: fx.port, rcpt: RCPT, timeoutMs: 5000 }, concurrency: sessions, durationMs: 10_000, maxSessions: sessions, mix, seed: 3 });
}

/** A connection's commands as one string, those that came in one read in brackets: "EHLO [MAIL RCPT DATA] [. MAIL RCPT DATA] [. QUIT]" ("." is the end of a message). */
function dialogue(log: readonly LoggedCommand[]): string {
  const out: string[] = [];
  for (let i = 0; i < log.length; ) {
    let j = i;
    while (j + 1 < log.length && log[j + 1]?.read === log[i]?.read) j++;
    const verbs = log.slice(i, j + 1).map((c) => c.verb + (c.code >= 400 ? `(${c.code})` : ""));
    out.push(j > i ? `[${verbs.join(" ")}]` : (verbs[0] as string));
    i = j + 1;
  }
  return out.join(" ");
}

test("the mix sets transactions per session: drawn in its range, replayable, multi keeps its own range, hold has none", () => {
  const mix = validateMix({ weights: { basic: 2, pipelined: 2, multi: 1, hold: 1 }, transactions: { min: 3, max: 40 }, multi: { min: 2, max: 5 } });
  const take = (): SessionPlan[] => {
    const s = new PlanStream(mix, 8, 100);
    return Array.from({ length: 300 }, () => s.next());
  };
  const plans = take();
  assert.deepEqual(plans, take());
  for (const p of plans) {
    if (p.kind === "hold") assert.equal(p.transactions, 0);
    else if (p.kind === "multi") assert.ok(p.transactions >= 2 && p.transactions <= 5, `multi ${p.transactions}`);
    else assert.ok(p.transactions >= 3 && p.transactions <= 40, `${p.kind} ${p.transactions}`);
  }
  assert.ok(new Set(plans.filter((p) => p.kind === "basic").map((p) => p.transactions)).size > 10, "transactions vary within the range");
  assert.deepEqual(DEFAULT_MIX.transactions, { min: 1, max: 1 });
  assert.throws(() => validateMix({ transactions: { min: 0, max: 3 } }), MixError);
  assert.throws(() => validateMix({ transactions: { min: 5, max: 3 } }), /transactions needs 0 <= min <= max/);
});

test("a reused pipelined session pipelines MAIL+RCPT+DATA in every transaction, sends each message with the next envelope, and no RSET", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const r = await storm(fx, mixOf("pipelined", 5), 4);
  const m = r.metrics;
  assert.equal(m.count("ok"), 4, JSON.stringify(Object.fromEntries(m.outcomes)));
  assert.equal(m.accepted, 20);
  assert.equal(fx.accepted, 20);
  assert.equal(fx.log.length, 4, "one connection per session");
  // RFC 2920 3.1: message content may open a group (and QUIT may close one).
  for (const log of fx.log) assert.equal(dialogue(log), `EHLO [MAIL RCPT RCPT DATA] ${Array(4).fill("[. MAIL RCPT RCPT DATA]").join(" ")} [. QUIT]`);
  // per-phase metrics count each pipelined reply once, under its own phase
  assert.equal(m.codes.get("mail 250"), 20);
  assert.equal(m.codes.get("rcpt 250"), 40);
  assert.equal(m.codes.get("data 354"), 20);
  assert.equal(m.codes.get("dot 250"), 20);
  for (const phase of ["mail", "rcpt", "data", "dot"] as const) assert.equal(m.phases.get(phase)?.count, 20, phase);
  assert.equal(m.phases.get("connect")?.count, 4);
  // one message per connection: the message goes with the QUIT
  fx.log.length = 0;
  const single = await storm(fx, mixOf("pipelined", 1), 2);
  assert.equal(single.metrics.count("ok"), 2);
  for (const log of fx.log) assert.equal(dialogue(log), "EHLO [MAIL RCPT RCPT DATA] [. QUIT]");
});

test("a reused basic session sends one command at a time and no RSET; multi still sends RSET between every two", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const basic = await storm(fx, mixOf("basic", 3), 2);
  assert.equal(basic.metrics.accepted, 6);
  for (const log of fx.log) assert.equal(dialogue(log), `EHLO ${Array(3).fill("MAIL RCPT RCPT DATA .").join(" ")} QUIT`);
  fx.log.length = 0;
  const multi = await storm(fx, validateMix({ weights: { multi: 1 }, size: { min: 300, max: 300 }, rcpts: { min: 1, max: 1 }, multi: { min: 3, max: 3 } }), 2);
  assert.equal(multi.metrics.accepted, 6);
  for (const log of fx.log) assert.equal(dialogue(log), "EHLO MAIL RCPT DATA . RSET MAIL RCPT DATA . RSET MAIL RCPT DATA . QUIT");
});

test("RSET only after a transaction refused before its message: the session goes on with the next message and ends with the refusal's class", async (t) => {
  // The second MAIL of every connection gets a 451.
  const fx = await startFixture({ refuseMail: (n) => (n === 1 ? "451 4.3.0 Try again later" : undefined) });
  t.after(() => fx.close());
  const piped = await storm(fx, mixOf("pipelined", 4), 3);
  assert.equal(piped.metrics.count("tempfail"), 3, JSON.stringify(Object.fromEntries(piped.metrics.outcomes)));
  assert.equal(piped.metrics.accepted, 9);
  // After the refused MAIL the server answers the pipelined RCPTs and DATA with 503s.
  for (const log of fx.log) assert.equal(dialogue(log), "EHLO [MAIL RCPT RCPT DATA] [. MAIL(451) RCPT(503) RCPT(503) DATA(503)] RSET [MAIL RCPT RCPT DATA] [. MAIL RCPT RCPT DATA] [. QUIT]");
  assert.equal(piped.metrics.codes.get("mail 451"), 3);
  assert.equal(piped.metrics.codes.get("mail 250"), 9 + 3, "nine MAILs and three RSETs got a 250");

  fx.log.length = 0;
  const basic = await storm(fx, mixOf("basic", 3), 2);
  assert.equal(basic.metrics.count("tempfail"), 2);
  assert.equal(basic.metrics.accepted, 4);
  for (const log of fx.log) assert.equal(dialogue(log), "EHLO MAIL RCPT RCPT DATA . MAIL(451) RSET MAIL RCPT RCPT DATA . QUIT");
});

test("a refused recipient after a lax 354: the empty message's reply is read before the RSET, so the replies stay in step", async (t) => {
  // Every RCPT of the second transaction is refused, yet DATA gets a 354.
  const fx = await startFixture({ refuseRcpt: (n) => (n === 2 || n === 3 ? "550 5.1.1 No such user" : undefined), laxData: true });
  t.after(() => fx.close());
  const r = await storm(fx, mixOf("pipelined", 3), 1);
  assert.equal(r.metrics.count("permfail"), 1, JSON.stringify(Object.fromEntries(r.metrics.outcomes)));
  assert.equal(r.metrics.accepted, 2);
  assert.equal(dialogue(fx.log[0] ?? []), "EHLO [MAIL RCPT RCPT DATA] [. MAIL RCPT(550) RCPT(550) DATA] .(554) RSET [MAIL RCPT RCPT DATA] [. QUIT]");
  assert.equal(r.metrics.codes.get("dot 554"), 1);
  assert.equal(r.metrics.codes.get("dot 250"), 2);
});

test("a refused message needs no RSET: its dot reply ended the transaction, and the next envelope, sent with it, goes on", async (t) => {
  const fx = await startFixture({ refuseDot: (n) => (n === 1 ? "554 5.7.1 Message rejected" : undefined) });
  t.after(() => fx.close());
  const r = await storm(fx, mixOf("pipelined", 3), 2);
  assert.equal(r.metrics.count("permfail"), 2, JSON.stringify(Object.fromEntries(r.metrics.outcomes)));
  assert.equal(r.metrics.accepted, 4);
  for (const log of fx.log) assert.equal(dialogue(log), "EHLO [MAIL RCPT RCPT DATA] [. MAIL RCPT RCPT DATA] [.(554) MAIL RCPT RCPT DATA] [. QUIT]");
  assert.equal(r.metrics.codes.get("dot 554"), 2);
});

test("a 421 ends the session at once, whatever transactions are left", async (t) => {
  const fx = await startFixture({ refuseMail: (n) => (n === 1 ? "421 4.3.2 Shutting down" : undefined) });
  t.after(() => fx.close());
  const r = await storm(fx, mixOf("pipelined", 5), 2);
  assert.equal(r.metrics.count("tempfail"), 2, JSON.stringify(Object.fromEntries(r.metrics.outcomes)));
  assert.equal(r.metrics.accepted, 2);
  for (const log of fx.log) assert.match(dialogue(log), /^EHLO \[MAIL RCPT RCPT DATA\] \[\. MAIL\(421\)\]$/);
  for (const log of fx.log) assert.ok(!log.some((c) => c.verb === "RSET" || c.verb === "QUIT"));
});

test("the abort kinds complete every transaction but the last and abort that one", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  for (const kind of ["abort-data", "abort-after-dot"]) {
    const r = await storm(fx, mixOf(kind, 3), 2);
    assert.equal(r.metrics.count("aborted"), 2, kind);
    assert.equal(r.metrics.accepted, 4, kind);
  }
  // abort-data's last message never reaches its dot; abort-after-dot's may be taken or not
  assert.ok(fx.accepted >= 8 && fx.accepted <= 10, `fixture accepted ${fx.accepted}`);
  for (const log of fx.log) assert.equal(log.filter((c) => c.verb === "RSET").length, 0);
});

test("a reused-session plan prints as a script without RSETs that passes against a correct server", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const plan: SessionPlan = { kind: "pipelined", rcpts: 2, size: 500, transactions: 3, tls: "none", family: 4, holdMs: 0, pauseMs: 0, chunk: 0 };
  const text = planToScript(plan, { rcpt: RCPT, comments: [] });
  assert.equal((text.match(/RSET/g) ?? []).length, 0);
  assert.equal((text.match(/MAIL FROM/g) ?? []).length, 3);
  const program = loadProgram("reuse.smtp", { readFile: () => text });
  const run = await runProgram(program, { server: { host: "127.0.0.1", port: fx.port }, timeoutMs: 3000 });
  assert.equal(run.results[0]?.status, "passed", JSON.stringify(run.results[0]?.failure));
  assert.equal(fx.accepted, 3);
  // the same dialogue as the storm session's
  assert.equal(dialogue(fx.log[0] ?? []), "EHLO [MAIL RCPT RCPT DATA] [. MAIL RCPT RCPT DATA] [. MAIL RCPT RCPT DATA] [. QUIT]");
});

test("against the embedded MTA: reused pipelined sessions deliver every accepted message", async (t) => {
  const started = await startNamedTarget("embedded");
  t.after(() => started.stop());
  const { host, port } = started.endpoint;
  const mix = validateMix({ weights: { pipelined: 1 }, size: { min: 200, max: 2000 }, rcpts: { min: 1, max: 2 }, transactions: { min: 5, max: 15 } });
  const r = await runStorm({ target: { host, port, rcpt: started.mailboxes[0] as string, timeoutMs: 10_000 }, concurrency: 4, durationMs: 10_000, maxSessions: 8, mix, seed: 12 });
  const m = r.metrics;
  assert.equal(m.count("ok"), 8, JSON.stringify(Object.fromEntries(m.outcomes)));
  assert.ok(m.accepted >= 40 && m.accepted <= 120, `accepted ${m.accepted}`);
  assert.equal(m.codes.get("dot 250"), m.accepted);
  assert.equal(m.codes.get("mail 250"), m.accepted, "no RSET: one 250 to MAIL per message");
  await waitFor("queue drained", async () => (await started.target.queueSize()) === 0);
  const delivered = await started.target.delivered();
  assert.ok(delivered.length >= m.accepted, `${delivered.length} delivered < ${m.accepted} accepted`);
});

test("the CLI takes --transactions N or MIN..MAX and refuses anything else", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const run = (args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => execFile(process.execPath, ["dist/bin/smtpchaos.js", "storm", "--host", "127.0.0.1", "--port", String(fx.port), ...args], (err, stdout, stderr) => resolve({ code: err === null ? 0 : Number(err.code), out: stdout + stderr })));
  const bad = await run(["--transactions", "lots"]);
  assert.equal(bad.code, 2, bad.out);
  assert.match(bad.out, /--transactions expects N or MIN\.\.MAX/);
  const ok = await run(["--weight", "pipelined=1", "--transactions", "5", "--sessions", "2", "--max-sessions", "4", "--duration", "5s", "--seed", "1"]);
  assert.equal(ok.code, 0, ok.out);
  assert.equal(fx.log.length, 4);
  assert.equal(fx.accepted, 20);
  const range = await run(["--weight", "basic=1", "--transactions", "2..4", "--sessions", "2", "--max-sessions", "6", "--duration", "5s", "--seed", "1"]);
  assert.equal(range.code, 0, range.out);
  const perConnection = fx.log.slice(4).map((log) => log.filter((c) => c.verb === "MAIL").length);
  assert.equal(perConnection.length, 6);
  assert.ok(perConnection.every((n) => n >= 2 && n <= 4), perConnection.join(","));
});
