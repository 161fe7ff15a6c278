import { test } from "node:test";
import assert from "node:assert/strict";
import { parseReplies } from "../../smtp/index.js";
import { crashContext, judge, OutcomeTally, type SessionRecord, type StepResult } from "../../monkey/oracle.js";

const r = (text: string): StepResult["reply"] => {
  const [reply] = parseReplies(text.endsWith("\r\n") ? text : `${text}\r\n`);
  assert.ok(reply !== undefined);
  return reply;
};

const GOOD: StepResult[] = [
  { step: "banner", reply: r("220 mx ready") },
  { step: "ehlo", reply: r("250 mx") },
  { step: "mail", reply: r("250 ok") },
  { step: "rcpt", reply: r("250 ok") },
  { step: "data", reply: r("354 go") },
  { step: "dot", reply: r("250 queued") },
  { step: "quit", reply: r("221 bye") },
];

function rec(steps: StepResult[], extra: Partial<SessionRecord> = {}): SessionRecord {
  return { startedAt: 1000, endedAt: 2000, messageId: "m1-0", steps, faults: [], ...extra };
}
const upTo = (step: string): StepResult[] => GOOD.slice(0, GOOD.findIndex((s) => s.step === step));

const CASES: Array<{ name: string; rec: SessionRecord; outcome: string; finding: string | null; dot: string }> = [
  { name: "clean transaction", rec: rec(GOOD), outcome: "ok", finding: null, dot: "accepted" },
  {
    name: "451 at RCPT under a lookup fault",
    rec: rec([...upTo("rcpt"), { step: "rcpt", reply: r("451 4.3.0 Temporary lookup failure") }, { step: "quit", reply: r("221 bye") }], { faults: ["lookup.recipients"] }),
    outcome: "tempfail", finding: null, dot: "not-sent",
  },
  {
    name: "421 at DATA followed by a close",
    rec: rec([...upTo("data"), { step: "data", reply: r("421 4.3.0 queue error") }], { after421: "closed", faults: ["queue.open"] }),
    outcome: "tempfail", finding: null, dot: "not-sent",
  },
  {
    name: "421 without close",
    rec: rec([...upTo("mail"), { step: "mail", reply: r("421 4.7.0 try later") }], { after421: "open" }),
    outcome: "ungraceful", finding: "421-without-close", dot: "not-sent",
  },
  {
    name: "421 then the close seen as a disconnect error is still graceful",
    rec: rec([...upTo("dot"), { step: "dot", reply: r("421 4.3.0 shutting down") }, { step: "quit", error: { kind: "disconnect", message: "closed" } }], { after421: "closed" }),
    outcome: "tempfail", finding: null, dot: "rejected",
  },
  {
    name: "5xx after the dot while a queue fault fired",
    rec: rec([...upTo("dot"), { step: "dot", reply: r("554 5.3.0 write error") }], { faults: ["queue.write"] }),
    outcome: "permfail", finding: "permfail-under-fault", dot: "rejected",
  },
  {
    name: "5xx with no fault is still flagged (the flood sends valid mail)",
    rec: rec([...upTo("rcpt"), { step: "rcpt", reply: r("550 5.1.1 no such user") }]),
    outcome: "permfail", finding: "permfail-clean", dot: "not-sent",
  },
  {
    name: "close without a reply at MAIL",
    rec: rec([...upTo("mail"), { step: "mail", error: { kind: "disconnect", message: "closed", reset: false } }]),
    outcome: "ungraceful", finding: "close-without-reply", dot: "not-sent",
  },
  {
    name: "reset after the dot before the 250 is ambiguous for the ledger",
    rec: rec([...upTo("dot"), { step: "dot", error: { kind: "disconnect", message: "reset", reset: true } }]),
    outcome: "ungraceful", finding: "reset-without-reply", dot: "ambiguous",
  },
  {
    name: "malformed reply",
    rec: rec([...upTo("ehlo"), { step: "ehlo", error: { kind: "protocol", message: "malformed reply: 2500 hi" } }]),
    outcome: "ungraceful", finding: "malformed-reply", dot: "not-sent",
  },
  {
    name: "timeout waiting for the 250 after the dot",
    rec: rec([...upTo("dot"), { step: "dot", error: { kind: "timeout", message: "timed out" } }]),
    outcome: "hang", finding: "hang", dot: "ambiguous",
  },
  {
    name: "connection refused",
    rec: rec([{ step: "connect", error: { kind: "connect", message: "ECONNREFUSED" } }]),
    outcome: "unreachable", finding: "unreachable", dot: "not-sent",
  },
  {
    name: "a 4xx then a worse event: the worst wins",
    rec: rec([...upTo("rcpt"), { step: "rcpt", reply: r("450 busy") }, { step: "quit", error: { kind: "timeout", message: "timed out" } }]),
    outcome: "hang", finding: "hang", dot: "not-sent",
  },
  {
    name: "multi-line 250 after the dot",
    rec: rec([...upTo("dot"), { step: "dot", reply: r("250-queued\r\n250 as 1234") }, { step: "quit", reply: r("221 bye") }]),
    outcome: "ok", finding: null, dot: "accepted",
  },
];

for (const c of CASES) {
  test(`oracle: ${c.name}`, () => {
    const v = judge(c.rec);
    assert.equal(v.outcome, c.outcome, v.detail);
    assert.equal(v.finding, c.finding);
    assert.equal(v.dotResult, c.dot);
    assert.equal(v.accepted, c.dot === "accepted");
  });
}

test("oracle: a failed session overlapping a crash is a crash, with the log evidence", () => {
  const crash = { at: 2500, source: "exit" as const, exitCode: null, signal: "SIGKILL" as const, logTail: ["x"] };
  const failed = rec([...upTo("mail"), { step: "mail", error: { kind: "disconnect", message: "closed" } }]);
  const v = judge(failed, { crash, graceMs: 1000 });
  assert.equal(v.outcome, "crash");
  assert.match(v.detail, /SIGKILL/);
  assert.equal(judge(rec(GOOD), { crash }).outcome, "ok", "a session that succeeded is not blamed on a crash");
  assert.equal(judge(failed, { crash: { ...crash, at: 9000 }, graceMs: 1000 }).outcome, "ungraceful", "a later crash is unrelated");
});

test("oracle: crash context shows the lines around the fatal line the target matched", () => {
  const lines = ["a", "b", "c", "smtpd[12]: fatal: queue: lost child", "d", "e", "f"];
  const { fatal, context } = crashContext(lines, lines[3] as string, 2, 1);
  assert.equal(fatal, lines[3]);
  assert.deepEqual(context, ["b", "c", lines[3], "d"]);
  // a crash seen as an exit has no fatal line: the tail is the evidence
  assert.deepEqual(crashContext(lines, null, 2), { fatal: null, context: ["e", "f"] });
});

test("oracle: tally counts per fault and samples findings", () => {
  const t = new OutcomeTally(10);
  const bad = rec([...upTo("dot"), { step: "dot", reply: r("554 nope") }], { faults: ["queue.write", "queue.write"] });
  for (let i = 0; i < 20; i++) t.add(bad, judge(bad), () => "transcript");
  t.add(rec(GOOD), judge(rec(GOOD)));
  assert.equal(t.total.permfail, 20);
  assert.equal(t.total.ok, 1);
  assert.equal(t.perFault.get("queue.write")?.permfail, 20);
  assert.equal(t.perFault.get("(none)")?.ok, 1);
  assert.equal(t.findings["permfail-under-fault"], 20);
  assert.ok(t.samples.length > 0 && t.samples.length <= 10);
  assert.equal(t.samples[0]?.transcript, "transcript");
});

test("oracle: a reset of a session whose serving process the toolkit killed is excused; the same reset under a kill of another process is a finding", () => {
  const steps: StepResult[] = [{ step: "connect" }, { step: "banner", reply: { code: 220, text: "hi" } }, { step: "ehlo", error: { kind: "disconnect", message: "connection reset", reset: true } }];
  const self = judge(rec(steps, { faults: ["kill.smtpd"], selfInflicted: ["kill.smtpd"] }));
  assert.equal(self.outcome, "ungraceful", "the outcome stands");
  assert.equal(self.finding, null);
  assert.equal(self.excused, "reset-without-reply");
  const other = judge(rec(steps, { faults: ["kill.queue"] }));
  assert.equal(other.finding, "reset-without-reply", "a kill elsewhere does not excuse the MTA dropping a client");
  assert.equal(other.excused, null);
  const tally = new OutcomeTally();
  tally.add(rec(steps, { faults: ["kill.smtpd"], selfInflicted: ["kill.smtpd"] }), self);
  tally.add(rec(steps, { faults: ["kill.queue"] }), other);
  assert.equal(tally.excused, 1);
  assert.deepEqual(Object.fromEntries(tally.excusedPerFault), { "kill.smtpd": 1 });
  assert.equal(tally.findingCount(), 1);
});

test("oracle: a close after the server refused our own protocol violation with 5xx is allowed (RFC 5321 7.8); without that refusal it is a finding", () => {
  const steps: StepResult[] = [{ step: "connect" }, { step: "banner", reply: { code: 220, text: "hi" } }, { step: "ehlo", reply: { code: 250, text: "ok" } }, { step: "mail", error: { kind: "disconnect", message: "closed" } }];
  const ok = judge(rec(steps, { refusedViolation: true }));
  assert.equal(ok.finding, null);
  assert.equal(ok.outcome, "permfail");
  assert.equal(judge(rec(steps)).finding, "close-without-reply");
});
