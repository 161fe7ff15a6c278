// The false-lost case (issue 11): a correct server that delivers each message seconds after its
// 250 must pass with no finding under `monkey run --host`, and a server that really loses a
// message must show exactly that count. Also the CLI's refusals of missing Maildirs and flags.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runMonkey } from "../../monkey/run.js";
import { validatePlan } from "../../monkey/plan.js";
import { monkeyText } from "../../monkey/report.js";
import { ExternalTarget } from "../../targets/external/target.js";
import type { ExternalTargetOptions } from "../../targets/external/target.js";
import { startQueueingServer } from "./fixtures/queueing-server.js";
import type { QueueingServerOptions } from "./fixtures/queueing-server.js";
import { errorLines, hasStack, runCli, SMTPCHAOS } from "../cli/spawn.js";

const work = mkdtempSync(join(tmpdir(), "smtpchaos-external-"));
after(() => rmSync(work, { recursive: true, force: true }));
let dirs = 0;
const fresh = (): string => join(work, `box${++dirs}`);

async function against(server: Partial<QueueingServerOptions>, target: ExternalTargetOptions, maxSessions = 16) {
  const maildir = fresh();
  const srv = await startQueueingServer({ maildir, ...server });
  try {
    const external = new ExternalTarget({ host: "127.0.0.1", port: srv.port }, ["user@test.example"], [maildir], target);
    const report = await runMonkey({
      seed: 7,
      concurrency: 2,
      durationMs: 20_000,
      maxSessions,
      timeoutMs: 2000,
      drainTimeoutMs: 15_000,
      plan: validatePlan({ points: {} }),
      createTarget: () => ({ target: external, surface: null, readsMailboxes: true, unmanaged: external }),
    });
    return { report, accepted: srv.accepted };
  } finally {
    await srv.close();
  }
}

test("monkey --host: a queueing server that delivers 2-3 s after its 250 passes, queue not observable, restart skipped", async () => {
  const { report: r, accepted } = await against({}, { settleMs: 3500 });
  const text = monkeyText(r);
  assert.equal(r.verdict, "pass", text);
  assert.equal(r.findingCount, 0, text);
  assert.ok(r.ledger !== null && r.ledger.accepted === accepted && accepted > 0, text);
  assert.equal(r.ledger.lost, 0, text);
  assert.equal(r.ledger.deliveredDistinct, accepted, text);
  assert.equal(r.queue, "not observable");
  assert.equal(r.ledgerAfterRestart, null);
  assert.match(r.restartSkipped ?? "", /no --restart-cmd/);
  assert.match(text, /queue: not observable/);
  assert.match(text, /restart was skipped/);
  assert.match(text, /after settle/);
});

test("monkey --host: a queue-size command that claims an empty queue is believed (the old false-lost verdict), so the settle wait is what fixes it", async () => {
  const { report: r } = await against({}, { commands: { queueSize: "echo 0" } }, 8);
  assert.equal(r.queue, "observed");
  assert.ok(r.ledger !== null && r.ledger.lost > 0, "read right after the flood, the late deliveries look lost");
});

test("monkey --host: a server that really loses one message gives exactly 1 missing (its queue cannot say lost or stuck)", async () => {
  const { report: r } = await against({ loseNth: 3 }, { settleMs: 3500 });
  const text = monkeyText(r);
  assert.equal(r.verdict, "findings", text);
  assert.ok(r.ledger !== null);
  assert.equal(r.ledger.missing, 1, text);
  assert.equal(r.ledger.samples.missing.length, 1, text);
  assert.equal(r.ledger.lost + r.ledger.stuck, 0, text);
  assert.equal(r.findingCount, 1, text);
  assert.match(text, /stuck and lost cannot be told apart/);
});

test("monkey --host with --queue-size-cmd, --flush-cmd and --restart-cmd: drained by the commands, restarted and reconciled twice", async () => {
  const queueFile = join(work, "queue-count");
  const flushFile = join(work, "flush-now");
  const restarted = join(work, "restarted");
  // slow deliveries: only the flush command gets them out within the test
  const { report: r, accepted } = await against(
    { delayMs: { min: 60_000, spread: 0 }, queueFile, flushFile },
    { commands: { queueSize: `cat ${queueFile}`, flush: `touch ${flushFile}`, restart: `echo yes > ${restarted}` } },
  );
  const text = monkeyText(r);
  assert.equal(r.verdict, "pass", text);
  assert.equal(r.queue, "observed");
  assert.equal(r.restartSkipped, null);
  assert.ok(r.ledgerAfterRestart !== null && r.ledgerAfterRestart.deliveredDistinct === accepted && r.ledgerAfterRestart.lost === 0, text);
  assert.equal(readFileSync(restarted, "utf8"), "yes\n", "the restart command ran");
});

test("monkey --host: a command that fails or prints no count ends the run with the command named", async () => {
  const { report: r } = await against({}, { commands: { queueSize: "echo lots" } }, 4);
  assert.ok(r.crash !== null);
  assert.match(r.notes.join("\n"), /--queue-size-cmd "echo lots" must print just a message count, it printed "lots"/);
});

test("monkey run --host: a missing --maildir or host-only flags without --host are one-line usage errors", async () => {
  const srv = await startQueueingServer({ maildir: fresh() });
  try {
    const base = ["monkey", "run", "--host", "127.0.0.1", "--port", String(srv.port), "--rcpt", "user@test.example", "--duration", "1s"];
    for (const [args, want] of [
      [[...base, "--maildir", join(work, "no-such-dir")], /--maildir .*no-such-dir: no such directory/],
      [[...base, "--maildir", join(work, "queue-count-file")], /not a directory/],
      [["monkey", "run", "--duration", "1s", "--settle", "2s"], /--settle needs --host/],
      [[...base, "--maildir", work, "--settle", "90s"], /--settle 90s must be shorter than --drain-timeout/],
      [["monkey", "serve", "--host", "127.0.0.1", "--port", String(srv.port), "--fault", "queue.write:always"], /can only be faulted from the network/],
    ] as const) {
      writeFileSync(join(work, "queue-count-file"), "");
      const out = await runCli(SMTPCHAOS, [...args]);
      assert.equal(out.code, 2, out.stderr);
      assert.equal(errorLines(out).length, 1, out.stderr);
      assert.match(out.stderr, want);
      assert.ok(!hasStack(out));
    }
    assert.equal(srv.accepted, 0, "nothing was sent before the refusal");
  } finally {
    await srv.close();
  }
});

test("monkey serve --host: a fault proxy in front of the server and a control API with the net.* points", async () => {
  const srv = await startQueueingServer({ maildir: fresh() });
  try {
    let api = "";
    let proxyPort = 0;
    const out = await runCli(SMTPCHAOS, ["monkey", "serve", "--host", "127.0.0.1", "--port", String(srv.port)], {
      onStdout: (text, kill) => {
        const m = /control API: (\S+)/.exec(text);
        const p = /fault proxy on 127\.0\.0\.1:(\d+)/.exec(text);
        if (m !== null && p !== null && api === "") {
          api = m[1] as string;
          proxyPort = Number(p[1]);
          void (async () => {
            const { ControlClient } = await import("../../monkey/control-client.js");
            const points = (await new ControlClient(api).points()) as { points: string[] };
            assert.ok(points.points.length > 0 && points.points.every((x) => x.startsWith("net.")), JSON.stringify(points));
            const { SmtpSession } = await import("../../smtp/session.js");
            const s = await SmtpSession.connect({ host: "127.0.0.1", port: proxyPort, timeoutMs: 2000, transcript: null });
            const banner = await s.readReply(2000, "banner");
            assert.equal(banner.code, 220);
            await s.quit();
            kill("SIGTERM");
          })().catch(() => kill("SIGKILL"));
        }
      },
    });
    assert.equal(out.signal, null, out.stderr);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.notEqual(proxyPort, srv.port);
  } finally {
    await srv.close();
  }
});
