// monkey sweep: failure IDs from discovered sites (pure), the embedded target swept end to end
// (every failure it can take, each once, all graceful, every discovered cell injected, the same
// seed giving the same IDs and verdicts), and bad input refused in one line with exit 2.
import { test } from "node:test";
import assert from "node:assert/strict";
import { failureIds, globMatcher, type CallSite } from "../../monkey/sweep/failures.js";
import { PhaseTimeline } from "../../monkey/sweep/phases.js";
import { sitesFrom } from "../../monkey/sweep/sites.js";
import { runSweep, type SweepReport } from "../../monkey/sweep/sweep.js";
import { sweepText } from "../../monkey/sweep/outputs/text.js";
import { sweepJunit } from "../../monkey/sweep/outputs/junit.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { errorLines, hasStack, runCli, SMTPCHAOS } from "../cli/spawn.js";

test("failure IDs: each site's failures in a stable order (phase, point, call site), named by point, stack, phase and failure", () => {
  const site = (point: string, phase: CallSite["phase"], hash = 0, depth: 2 | 4 | 8 = 8): CallSite => ({ point, role: point.startsWith("sys.") ? "queue" : null, call: point.split(".").pop() as string, stack: hash === 0 ? null : { hash, depth }, phase, calls: 1 });
  const ids = failureIds([site("sys.queue.rename", "dot", 0xabc), site("sys.queue.rename", "after-250", 0x12, 2), site("queue.write", "dot"), site("lookup.recipients", "rcpt"), site("kill.queue", "data")]);
  assert.deepEqual(
    ids.map((f) => f.id),
    [
      "lookup.recipients/rcpt/tempfail",
      "lookup.recipients/rcpt/garbage",
      "lookup.recipients/rcpt/timeout",
      "lookup.recipients/rcpt/exit",
      "kill.queue/data/kill",
      "queue.write/dot/EIO",
      "queue.write/dot/ENOSPC",
      "sys.queue.rename@00000abc/dot/EIO",
      "sys.queue.rename@00000abc/dot/ENOSPC",
      "sys.queue.rename@00000012:2/after-250/EIO",
      "sys.queue.rename@00000012:2/after-250/ENOSPC",
    ],
  );
  const rename = ids.find((f) => f.id === "sys.queue.rename@00000abc/dot/ENOSPC");
  assert.deepEqual(rename?.settings, { once: true, stack: "00000abc", action: "error", errno: "ENOSPC" });
  assert.ok(failureIds([site("sys.queue.rename", "dot", 1)], { allErrnos: true }).length > 10, "--errnos all: every errno rename can return");
  assert.deepEqual(failureIds([site("queue.write", "dot")], { delayMs: 6000 }).map((f) => f.failure), ["EIO", "ENOSPC", "delay 6000ms"]);
  const want = globMatcher(["sys.queue.*", "kill.*"]);
  assert.deepEqual(["sys.queue.write", "sys.smtp.write", "kill.lookup", "queue.write"].map(want), [true, false, true, false]);
});

test("sites: a call falls in the phase in flight when it happened; a kill is a site where its role was busy; call sites by the deepest stable stack hash", () => {
  const tl = new PhaseTimeline();
  tl.enter("mail", 1000);
  tl.enter("rcpt", 1000.4);
  tl.enter("data", 1000.9);
  tl.enter("delivery", 1005);
  tl.end(1010);
  const { sites, racy, unstable } = sitesFrom(
    [
      { at: 1000.5, point: "sys.queue.write", stacks: [5, 6, 7] },
      { at: 1000.6, point: "sys.queue.write", stacks: [5, 6, 7] },
      { at: 1006, point: "sys.delivery.rename", stacks: [8, 8, 9] },
      { at: 2000, point: "sys.queue.write", stacks: [5, 6, 7] },
    ],
    [tl],
    { killPoints: ["kill.queue", "kill.smtp"], sysProfiled: true },
  );
  assert.deepEqual(
    sites.map((s) => [s.point, s.stack, s.phase, s.calls]),
    [
      ["sys.queue.write", { hash: 7, depth: 8 }, "rcpt", 2],
      ["sys.delivery.rename", { hash: 9, depth: 8 }, "delivery", 1],
      ["kill.queue", null, "rcpt", 1],
    ],
    "the call after the transaction belongs to none; kill.smtp's role made no call",
  );
  assert.equal(racy, 0);
  assert.equal(unstable, 0);
  // a second transaction in which the delivery's rename came during the data phase: seen there in 1 of 2, still a site (half)
  const tl2 = new PhaseTimeline();
  tl2.enter("data", 3000);
  tl2.enter("delivery", 3001);
  tl2.end(3010);
  const tl3 = new PhaseTimeline();
  tl3.enter("data", 4000);
  tl3.enter("delivery", 4001);
  tl3.end(4010);
  const three = sitesFrom(
    [
      { at: 1006, point: "sys.delivery.rename", stacks: [3, 4, 9] },
      { at: 3000.5, point: "sys.delivery.rename", stacks: [3, 4, 9] },
      { at: 4005, point: "sys.delivery.rename", stacks: [3, 4, 10] },
      { at: 1006.5, point: "sys.delivery.fsync", stacks: [1, 2, 3] },
      { at: 3005, point: "sys.delivery.fsync", stacks: [11, 12, 13] },
      { at: 4005.5, point: "sys.delivery.fsync", stacks: [21, 22, 23] },
    ],
    [tl, tl2, tl3],
    { killPoints: [], sysProfiled: true },
  );
  assert.deepEqual(
    three.sites.map((s) => [s.point, s.phase, s.stack]),
    [
      ["sys.delivery.rename", "delivery", { hash: 4, depth: 4 }],
      ["sys.delivery.fsync", "delivery", null],
    ],
    "seen in data in 1 of 3 transactions: racy, swept in delivery; 8 return addresses differ once, 4 do not; fsync's stacks never repeat: one site",
  );
  assert.equal(three.racy, 1);
  assert.equal(three.unstable, 1);
});

const sweepEmbedded = (seed: number): Promise<SweepReport> =>
  runSweep({ createTarget: (x) => monkeyTarget("embedded", x), targetRef: "embedded", seed, points: null, phases: null, choice: {}, budgetMs: 120_000, timeoutMs: 5000, deliveryWaitMs: 5000 });

test("monkey sweep of the embedded target: every failure it can take is injected once and handled gracefully; the same seed gives the same IDs and verdicts", { timeout: 240_000 }, async () => {
  const a = await sweepEmbedded(7);
  assert.equal(a.verdict, "pass", sweepText(a));
  assert.ok(a.failureIds.length >= 20, `${a.failureIds.length} failure IDs`);
  for (const row of a.matrix) for (const [phase, c] of Object.entries(row.cells)) assert.equal(c?.injected, c?.discovered, `${row.point} at ${phase}: every discovered failure was injected`);
  const cell = (point: string, phase: string) => a.matrix.find((r) => r.point === point)?.cells[phase as "rcpt"];
  assert.ok((cell("lookup.recipients", "rcpt")?.graceful ?? 0) > 0, "recipient lookups fail at RCPT");
  assert.ok((cell("queue.write", "dot")?.graceful ?? 0) > 0, "queue writes fail after the final dot");
  assert.ok(a.failureIds.some((f) => f.point === "deliver.write" && f.outcome === "graceful" && (f.phase === "after-250" || f.phase === "delivery")), "mailbox writes fail after the 250, in delivery");
  assert.ok(a.failureIds.some((f) => f.point === "queue.write" && f.session === "tempfail"), "a failed queue write is a 4xx to the client");
  const junit = sweepJunit(a);
  assert.equal((junit.match(/<testcase /g) ?? []).length, a.failureIds.length + 1, "one JUnit case per failure ID, and the verdict");
  const b = await sweepEmbedded(7);
  assert.deepEqual(b.failureIds.map((f) => [f.id, f.outcome, f.session]), a.failureIds.map((f) => [f.id, f.outcome, f.session]));
});

test("monkey sweep: bad input is one line and exit 2", { timeout: 60_000 }, async () => {
  const cases: Array<[string[], RegExp]> = [
    [["--points", "nosuch.*"], /--points: "nosuch\.\*" names no fault point/],
    [["--phases", "rcpt,later"], /--phases: unknown phase later/],
    [["--budget", "soon"], /--budget: not a duration/],
    [["--points", "sys.*"], /nothing to sweep: embedded offers no point matching sys\.\*/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(SMTPCHAOS, ["monkey", "sweep", "--target", "embedded", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const errors = errorLines(r).filter((l) => l.startsWith("smtpchaos monkey sweep:"));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0] as string, pattern);
    assert.equal(hasStack(r), false, r.stderr);
  }
});

test("replays: a finding's smtpscript test-case walks to its phase, arms the failure there with errno and site, and expects graceful replies and one delivery", async () => {
  const { failuresOf } = await import("../../monkey/sweep/failures.js");
  const { replayScript, replayFlags } = await import("../../monkey/sweep/replay.js");
  const { parseScript } = await import("../../smtpscript/parse.js");
  const [f] = failuresOf({ point: "sys.daemon.rename", role: "daemon", call: "rename", stack: { hash: 0x4cce4c24, depth: 4 }, phase: "dot", calls: 3 });
  assert.ok(f !== undefined);
  assert.equal(replayFlags(f), "--fault 'sys.daemon.rename:once=true,stack=4cce4c24:4,action=error,errno=EIO' --concurrency 1");
  const script = replayScript(f, "accepted");
  assert.ok(script !== null);
  const lines = script.split("\n").map((l) => l.trim());
  const arm = lines.indexOf("monkey fail sys.daemon.rename errno EIO site 4cce4c24:4 once");
  assert.ok(arm > lines.indexOf('writeln "DATA"') && arm < lines.indexOf('writeln "."'), script);
  assert.equal(lines[lines.indexOf('writeln "."') + 1], "expect smtp graceful");
  assert.ok(lines.includes('expect delivered 1 header "^X-Sweep: ${uniq}$"'));
  assert.ok((replayScript(f, "rejected") ?? "").includes('expect delivered 0 header "^X-Sweep: ${uniq}$"'), "a refused message must not be delivered");
  const parsed = parseScript(script, "replay.smtp");
  assert.equal(parsed.items.filter((i) => i.kind === "test-case").length, 1, "it parses as one test-case");
  const [k] = failuresOf({ point: "kill.queue", role: "queue", call: "kill", stack: null, phase: "rcpt", calls: 1 });
  assert.equal(replayScript(k as NonNullable<typeof k>, "not-sent"), null, "a kill has no statement");
  const [c] = failuresOf({ point: "queue.write", role: null, call: "queue.write", stack: null, phase: "connect", calls: 1 });
  assert.equal(replayScript(c as NonNullable<typeof c>, "not-sent"), null, "a script's connection is open before its first statement");
});
