// Servers that break the protocol must never pass: replies before their commands, a 250 to
// DATA, an endless multi-line reply. Each tool (wire layer, smtpscript, storm, monkey) must
// report them as protocol failures, in bounded memory, with no unhandled rejection.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { SmtpSession, SmtpError, SmtpProtocolError, buildMessage, DEFAULT_TRANSCRIPT_LIMITS } from "../../smtp/index.js";
import { startHostile } from "./hostile-server.js";
import type { Behaviour, HostileStep } from "./hostile-server.js";
import { loadProgram } from "../../smtpscript/parse.js";
import { runProgram } from "../../smtpscript/runner.js";
import { runSession } from "../../storm/session.js";
import { Metrics, OUTCOMES, UNGRACEFUL } from "../../storm/metrics.js";
import { PlanStream, DEFAULT_MIX } from "../../storm/plan.js";
import type { SessionPlan } from "../../storm/plan.js";
import { runTransaction } from "../../monkey/flood.js";
import { judge } from "../../monkey/oracle.js";
import { Ledger } from "../../monkey/ledger.js";
import { runMonkey } from "../../monkey/run.js";
import { validatePlan } from "../../monkey/plan.js";
import { ExternalTarget } from "../../targets/external/target.js";

const SCRIPT = `test-case name "simple" {
  expect smtp ok
  writeln "EHLO client.example"
  expect smtp helo
  writeln "MAIL FROM:<a@client.example>"
  expect smtp ok
  writeln "RCPT TO:<user@test.example>"
  expect smtp ok
  writeln "QUIT"
  expect smtp ok
}`;

async function script(host: string, port: number, source = SCRIPT) {
  const program = loadProgram("hostile.smtp", { readFile: () => source });
  return runProgram(program, { server: { host, port }, timeoutMs: 2000 });
}

const basicPlan = (kind: SessionPlan["kind"] = "basic"): SessionPlan => ({ ...new PlanStream({ ...DEFAULT_MIX, weights: { [kind]: 1 } }, 1).next(), kind });

async function storm(host: string, port: number, kind: SessionPlan["kind"] = "basic") {
  const m = new Metrics();
  const outcome = await runSession(basicPlan(kind), { host, port, rcpt: "user@test.example", timeoutMs: 2000 }, m);
  return outcome;
}

async function monkeyTx(host: string, port: number, timeoutMs = 2000) {
  const ledger = new Ledger();
  const { record } = await runTransaction({ host, port, ledger, timeoutMs, closeWaitMs: Math.min(timeoutMs, 500), mail: { from: "a@client.example", to: ["user@test.example"], size: 300, dotLines: false } });
  return judge({ ...record, faults: [] });
}

test("a server that replies before the commands: unsolicited replies fail the wire layer, smtpscript, storm and the monkey", async (t) => {
  const srv = await startHostile("early");
  t.after(() => srv.close());
  const s = await SmtpSession.connect({ host: srv.host, port: srv.port, timeoutMs: 2000 });
  t.after(() => s.close());
  assert.equal((await s.readReply()).code, 220);
  await assert.rejects(s.ehlo("client"), (e: unknown) => e instanceof SmtpProtocolError && /unsolicited reply 250/.test(e.message));

  const r = await script(srv.host, srv.port);
  assert.equal(r.results[0]?.status, "failed", JSON.stringify(r.results[0]?.failure));
  assert.match(r.results[0]?.failure?.message ?? "", /unsolicited reply 250/);

  assert.equal(await storm(srv.host, srv.port), "protocol");
  const v = await monkeyTx(srv.host, srv.port);
  assert.equal(v.outcome, "ungraceful");
  assert.equal(v.finding, "protocol-violation");
});

test("a server answering DATA with 250 instead of 354: a protocol finding in storm and the monkey, never ok or permfail", async (t) => {
  const srv = await startHostile("data-250");
  t.after(() => srv.close());
  for (const kind of ["basic", "pipelined"] as const) assert.equal(await storm(srv.host, srv.port, kind), "protocol", kind);
  const v = await monkeyTx(srv.host, srv.port);
  assert.equal(v.outcome, "ungraceful");
  assert.equal(v.finding, "protocol-violation");
  assert.match(v.detail, /250 to DATA, expected 354/);
  assert.equal(v.accepted, false);
});

test("monkey run against protocol-breaking servers: findings, exit-worthy, never PASS", async (t) => {
  for (const behaviour of ["early", "data-250"] as const) {
    const srv = await startHostile(behaviour);
    t.after(() => srv.close());
    const r = await runMonkey({
      seed: 1,
      concurrency: 2,
      durationMs: 1500,
      maxSessions: 20,
      timeoutMs: 1000,
      drainTimeoutMs: 500,
      plan: validatePlan({ points: {} }),
      createTarget: () => ({ target: new ExternalTarget({ host: srv.host, port: srv.port }, ["user@test.example"], []), surface: null, readsMailboxes: false }),
    });
    assert.equal(r.verdict, "findings", behaviour);
    assert.ok(r.findingCount > 0);
    assert.equal(r.outcomes.ok, 0, `${behaviour}: no session is ok`);
    assert.ok(r.notes.some((n) => /accepted no message/.test(n)), r.notes.join("\n"));
  }
});

test("an endless multi-line reply hits the reply cap (named in the error) and the transcript stays bounded", async (t) => {
  const srv = await startHostile("endless-ehlo");
  t.after(() => srv.close());
  const s = await SmtpSession.connect({ host: srv.host, port: srv.port, timeoutMs: 5000 });
  t.after(() => s.close());
  await s.readReply();
  await assert.rejects(s.ehlo("client"), (e: unknown) => e instanceof SmtpProtocolError && /longer than 1000 lines \(the cap per reply\)/.test(e.message));
  // the server keeps streaming; what the session keeps does not grow with it
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(srv.sent() > 1_000_000, `server sent ${srv.sent()} bytes`);
  assert.ok((s.transcript?.entries.length ?? 0) <= DEFAULT_TRANSCRIPT_LIMITS.maxEntries);
  const kept = (s.transcript?.entries ?? []).reduce((a, e) => a + e.data.length, 0);
  assert.ok(kept < DEFAULT_TRANSCRIPT_LIMITS.maxEntries * (DEFAULT_TRANSCRIPT_LIMITS.maxEntryBytes + 200), `transcript keeps ${kept} bytes`);

  const r = await script(srv.host, srv.port);
  assert.equal(r.results[0]?.status, "failed");
  assert.match(r.results[0]?.failure?.message ?? "", /cap per reply/);
  assert.equal(await storm(srv.host, srv.port), "protocol");
  assert.equal((await monkeyTx(srv.host, srv.port)).outcome, "ungraceful");
});

test("a script writing in a tight loop waits for the socket (backpressure) instead of buffering without bound", async (t) => {
  // The server reads nothing: the client's socket buffer fills and the write must wait, then time out.
  const srv = await startHostile([{ send: "220 deaf.test\r\n" }], { deaf: true });
  t.after(() => srv.close());
  const before = process.memoryUsage().rss;
  const program = loadProgram("loop.smtp", { readFile: () => `test-case { expect smtp ok\n repeat 1000000 { writeln "NOOP ${"x".repeat(200)}" } }` });
  const r = await runProgram(program, { server: { host: srv.host, port: srv.port }, timeoutMs: 1000 });
  assert.equal(r.results[0]?.status, "error");
  assert.match(r.results[0]?.failure?.message ?? "", /timed out after 1000 ms waiting for the server to read/);
  const grown = (process.memoryUsage().rss - before) / 1048576;
  assert.ok(grown < 150, `RSS grew ${grown.toFixed(0)} MiB`);
});

// Generated misbehaviour: replies early, unsolicited, split byte by byte, oversized, endless,
// of the wrong class, or cut off. Whatever comes, every client ends with a classified result.
const replyLine = fc.oneof(
  fc.constantFrom("220 hi", "250 ok", "354 go", "421 bye", "451 later", "550 no", "999 odd", "250-more", "garbage", "", "2"),
  fc.integer({ min: 1, max: 70_000 }).map((n) => "250 " + "y".repeat(n)),
);
const step: fc.Arbitrary<HostileStep> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ send: fc.array(replyLine, { minLength: 1, maxLength: 3 }).map((ls) => ls.map((l) => l + "\r\n").join("")), split: fc.constantFrom(0, 0, 1, 3), afterLine: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ send: fc.constantFrom("250 no end", "250 bare\n", "250 cr\r", "\u0000\u00ff\r\n") }) },
  { weight: 1, arbitrary: fc.constantFrom<HostileStep>({ endless: "250-x\r\n" }, { endless: "y" }, { end: "close" }, { end: "reset" }) },
);

test("property: against generated hostile servers, every client ends with a classified outcome, in bounded memory, with no unhandled rejection", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on("unhandledRejection", onUnhandled);
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
        const srv = await startHostile(steps as Behaviour, { maxMs: 3000 });
        try {
          // wire layer: a whole transaction; only typed SMTP errors may escape
          let s: SmtpSession | null = null;
          try {
            s = await SmtpSession.connect({ host: srv.host, port: srv.port, timeoutMs: 200 });
            await s.readReply();
            await s.ehlo("client");
            await s.command("MAIL FROM:<a@b.example>");
            await s.command("DATA");
            await s.sendData(buildMessage({ from: "a@b.example", to: ["c@d.example"], size: 100 }).data);
          } catch (e) {
            assert.ok(e instanceof SmtpError, `wire: ${String(e)}`);
          } finally {
            s?.close();
          }
          const r = await runProgram(loadProgram("p.smtp", { readFile: () => SCRIPT }), { server: { host: srv.host, port: srv.port }, timeoutMs: 200 });
          const res = r.results[0];
          assert.ok(res !== undefined && res.failure?.type !== "internal", `smtpscript: ${JSON.stringify(res?.failure)}`);
          assert.ok(res.transcripts.every((x) => x.entries.length <= DEFAULT_TRANSCRIPT_LIMITS.maxEntries));
          const m = new Metrics();
          const outcome = await runSession(basicPlan(), { host: srv.host, port: srv.port, rcpt: "c@d.example", timeoutMs: 200 }, m);
          assert.ok(OUTCOMES.includes(outcome), outcome);
          // nothing these servers do is a clean, accepted session
          assert.ok(outcome !== "ok" || m.accepted === 1);
          const v = await monkeyTx(srv.host, srv.port, 200);
          assert.ok(v.outcome !== "ok" || v.accepted, `monkey: ok without an accepted message: ${v.detail}`);
        } finally {
          await srv.close();
        }
      }),
      { numRuns: 20, seed: 20261203 },
    );
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
  assert.deepEqual(unhandled, []);
  assert.ok(process.memoryUsage().rss < 1024 * 1048576, `RSS ${process.memoryUsage().rss}`);
  assert.ok(UNGRACEFUL.includes("protocol"));
});
