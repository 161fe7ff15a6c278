// Interrupts and the drain budget of `monkey run` (issue 26 item 7): a signal during the drain is
// obeyed at once (no further wait, no restart, a partial report, exit 130), and --drain-timeout
// bounds the whole after-flood phase once, not each drain. The queues here never empty, so
// without the fix each run would wait out its whole drain timeout.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runMonkey } from "../../monkey/run.js";
import type { MonkeyReport, MonkeyRunOptions } from "../../monkey/run.js";
import { validatePlan } from "../../monkey/plan.js";
import { monkeyTarget } from "../../monkey/targets.js";
import { ExternalTarget } from "../../targets/external/target.js";
import { EXIT } from "../../common/exit-codes.js";
import { startQueueingServer } from "./fixtures/queueing-server.js";
import { runCli, SMTPCHAOS } from "../cli/spawn.js";

const work = mkdtempSync(join(tmpdir(), "smtpchaos-interrupt-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** The acceptance bound: from the signal to the report. */
const PROMPT_MS = 5_000;

const base = { seed: 42, concurrency: 2, durationMs: 20_000, maxSessions: 6, timeoutMs: 2000, plan: validatePlan({ points: {} }) } satisfies Partial<MonkeyRunOptions>;

/** The embedded target with a queue that never empties (its size pinned), counting its restarts. */
function neverDrains(): { createTarget: MonkeyRunOptions["createTarget"]; restarts: () => number } {
  let restarts = 0;
  const createTarget: MonkeyRunOptions["createTarget"] = (extra) => {
    const m = monkeyTarget("embedded", extra);
    const target = new Proxy(m.target, {
      get(obj, prop) {
        if (prop === "queueSize") return async () => 3;
        if (prop === "restart") {
          return async () => {
            restarts++;
            await obj.restart();
          };
        }
        const v: unknown = Reflect.get(obj, prop, obj);
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(obj) : v;
      },
    });
    return { ...m, target };
  };
  return { createTarget, restarts: () => restarts };
}

/** Runs until a stage line matches `when`, then aborts; returns the report and how long it took after the abort. */
async function abortedAt(when: RegExp, o: Omit<MonkeyRunOptions, "signal" | "onStage">): Promise<{ report: MonkeyReport; afterAbortMs: number; stages: string[] }> {
  const abort = new AbortController();
  const stages: string[] = [];
  let abortedAtMs = 0;
  const report = await runMonkey({
    ...o,
    signal: abort.signal,
    onStage: (t) => {
      stages.push(t);
      if (abortedAtMs === 0 && when.test(t)) {
        // a moment into the wait, not at its first line
        setTimeout(() => {
          abortedAtMs = Date.now();
          abort.abort();
        }, 300);
      }
    },
  });
  assert.ok(abortedAtMs > 0, `the run reached /${when.source}/ and was aborted there: ${stages.join(" | ")}`);
  return { report, afterAbortMs: Date.now() - abortedAtMs, stages };
}

test("monkey run: an abort during the drain ends it at once; the queue is read as it stands, nothing is restarted", async () => {
  const t = neverDrains();
  const { report: r, afterAbortMs, stages } = await abortedAt(/^waiting for 3 queued message/, { ...base, drainTimeoutMs: 120_000, createTarget: t.createTarget });
  assert.ok(afterAbortMs < PROMPT_MS, `the report came ${afterAbortMs} ms after the abort`);
  assert.equal(r.interrupted, true);
  assert.equal(r.verdict, "interrupted");
  assert.ok(r.ledger !== null, "the partial report has a ledger");
  assert.equal(r.ledger.queueSize, 3, "read as it stood");
  assert.ok(r.ledger.accepted > 0);
  assert.equal(r.ledgerAfterRestart, null);
  assert.equal(t.restarts(), 0, "no restart after the interrupt");
  assert.ok(stages.some((s) => /^interrupted: 3 message\(s\) still queued/.test(s)), stages.join("\n"));
  assert.ok(r.notes.some((n) => /^the run was interrupted: the ledger was read as the queue and mailboxes stood.*restart-and-reconcile step was skipped/.test(n)), r.notes.join("\n"));
});

test("monkey run --host: an abort while waiting for the Maildirs to settle ends the wait at once", async () => {
  const maildir = join(work, "settle-box");
  const srv = await startQueueingServer({ maildir });
  try {
    // a settle time no run here could reach: only the abort ends this wait early
    const external = new ExternalTarget({ host: "127.0.0.1", port: srv.port }, ["user@test.example"], [maildir], { settleMs: 100_000 });
    const { report: r, afterAbortMs } = await abortedAt(/^the queue is not observable: waiting until the Maildirs stop changing/, {
      ...base,
      drainTimeoutMs: 120_000,
      createTarget: () => ({ target: external, surface: null, readsMailboxes: true, unmanaged: external }),
    });
    assert.ok(afterAbortMs < PROMPT_MS, `the report came ${afterAbortMs} ms after the abort`);
    assert.equal(r.interrupted, true);
    assert.equal(r.verdict, "interrupted");
    assert.ok(r.ledger !== null && r.ledger.accepted > 0, "the partial report has a ledger");
    assert.ok(!r.notes.some((n) => /ran out/.test(n)), `an interrupted wait is not a spent budget: ${r.notes.join("\n")}`);
  } finally {
    await srv.close();
  }
});

test("monkey run: --drain-timeout is one budget for the drain, the restart and the drain after it", async () => {
  const t = neverDrains();
  const budgetMs = 6_000;
  let healedAt = 0;
  const r = await runMonkey({
    ...base,
    drainTimeoutMs: budgetMs,
    createTarget: t.createTarget,
    onStage: (s) => {
      if (healedAt === 0 && s.startsWith("faults stopped")) healedAt = Date.now();
    },
  });
  const afterFloodMs = Date.now() - healedAt;
  assert.ok(healedAt > 0);
  assert.equal(t.restarts(), 1, "the restart still happens");
  assert.ok(r.ledgerAfterRestart !== null && r.ledgerAfterRestart.queueSize === 3);
  // the first drain spends the budget (the queue never empties); the second gets what is left,
  // nothing: applied twice, the phase would last two budgets
  assert.ok(afterFloodMs >= budgetMs, `the budget was spent: ${afterFloodMs} ms`);
  assert.ok(afterFloodMs < budgetMs + 3_500, `the whole after-flood phase took ${afterFloodMs} ms for a ${budgetMs} ms budget`);
  assert.ok(r.notes.some((n) => /^3 message\(s\) were still queued when the target was restarted \(the drain gave up after 6s, when --drain-timeout's 6s \(one budget/.test(n)), r.notes.join("\n"));
  assert.ok(r.notes.some((n) => /^3 message\(s\) were still queued after the restart when --drain-timeout's 6s .* ran out/.test(n)), r.notes.join("\n"));
  assert.equal(r.interrupted, false);
});

test("smtpchaos monkey run: SIGTERM during the drain exits 130 within 5 s, the JSON report written and interrupted", async () => {
  const maildir = join(work, "cli-box");
  const srv = await startQueueingServer({ maildir });
  const json = join(work, "interrupted.json");
  const restarted = join(work, "restarted");
  try {
    let signalledAt = 0;
    const out = await runCli(
      SMTPCHAOS,
      // a queue that never empties: only the 120 s budget or the signal ends the drain
      ["monkey", "run", "--host", "127.0.0.1", "--port", String(srv.port), "--rcpt", "user@test.example", "--maildir", maildir, "--queue-size-cmd", "echo 3", "--restart-cmd", `touch ${restarted}`, "--duration", "2s", "--concurrency", "1", "--drain-timeout", "120s", "--json", json],
      {
        onStdout: (text, kill) => {
          if (signalledAt === 0 && /monkey: waiting for 3 queued message\(s\) to be delivered/.test(text)) {
            signalledAt = Date.now();
            kill("SIGTERM");
          }
        },
      },
    );
    const tookMs = Date.now() - signalledAt;
    assert.ok(signalledAt > 0, `the run reached its drain: ${out.stderr}`);
    assert.equal(out.code, EXIT.interrupted, out.stderr);
    assert.ok(tookMs < PROMPT_MS, `it exited ${tookMs} ms after SIGTERM`);
    assert.match(out.stderr, /interrupted; stopping the flood and any drain/);
    const r = JSON.parse(readFileSync(json, "utf8")) as MonkeyReport;
    assert.equal(r.interrupted, true);
    assert.equal(r.verdict, "interrupted");
    assert.ok(r.ledger !== null && r.ledger.queueSize === 3, "the partial report has the ledger as it stood");
    assert.equal(r.ledgerAfterRestart, null);
    assert.ok(!existsSync(restarted), "the server was not restarted after the signal");
    assert.match(out.stdout, /interrupted/i, "the partial report is printed too");
  } finally {
    await srv.close();
  }
});

test("smtpchaos monkey run: a second interrupt writes what the flood saw at once and exits 130 within 2 s", async () => {
  const maildir = join(work, "cut-box");
  const srv = await startQueueingServer({ maildir });
  const json = join(work, "cut.json");
  try {
    let secondAt = 0;
    const out = await runCli(
      SMTPCHAOS,
      // without the second interrupt, the run would flood for 60 s and wait up to 120 s for a queue that never empties
      ["monkey", "run", "--host", "127.0.0.1", "--port", String(srv.port), "--rcpt", "user@test.example", "--maildir", maildir, "--queue-size-cmd", "echo 3", "--duration", "60s", "--concurrency", "2", "--drain-timeout", "120s", "--json", json],
      {
        onStdout: (text, kill) => {
          if (secondAt === 0 && /control API/.test(text)) {
            secondAt = -1;
            setTimeout(() => {
              kill("SIGINT");
              setTimeout(() => {
                secondAt = Date.now();
                kill("SIGINT");
              }, 50);
            }, 1500);
          }
        },
      },
    );
    const tookMs = Date.now() - secondAt;
    assert.ok(secondAt > 0, `the run was interrupted twice: ${out.stderr}`);
    assert.equal(out.code, EXIT.interrupted, out.stderr);
    assert.ok(tookMs < 2_500, `it exited ${tookMs} ms after the second interrupt`);
    assert.match(out.stderr, /interrupted again; writing what the flood saw/);
    const r = JSON.parse(readFileSync(json, "utf8")) as MonkeyReport;
    assert.equal(r.verdict, "interrupted");
    assert.ok(r.sessions > 0, "the sessions the flood ran are in the report");
    assert.equal(r.ledger, null, "nothing more was read from the target");
    assert.ok(r.notes.some((n) => n.startsWith("interrupted twice")), r.notes.join("\n"));
  } finally {
    await srv.close();
  }
});
