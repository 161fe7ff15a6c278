// OpenSMTPD, Postfix, Exim and Sendmail started isolated, for real. They need root and `npm run setup:mtas`;
// in CI (CI set) a missing MTA fails these tests, elsewhere they are skipped with the reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { OpenSmtpdTarget, OPENSMTPD_PREFIX } from "../../targets/opensmtpd/target.js";
import { PostfixTarget, POSTFIX_DAEMON_DIR } from "../../targets/postfix/target.js";
import type { DaemonTarget } from "../../targets/process/daemon-target.js";
import { descendants, groupMembers, hasListener, holdsListener, procInfo } from "../../targets/process/procfs.js";
import { ipv6LoopbackAvailable } from "../../targets/process/ipv6.js";
import { networkPeers, isLoopbackOrAny } from "../../targets/process/strace.js";
import { mtaAvailability, requireMta, sendOne, waitFor } from "./helpers.js";
import { createTarget } from "../../targets/registry.js";

const EXIM = "/opt/smtpchaos/exim/usr/sbin/exim4";
const SENDMAIL = "/opt/smtpchaos/sendmail/usr/libexec/sendmail/sendmail";

const MTAS = [
  { name: "opensmtpd", binary: join(OPENSMTPD_PREFIX, "usr/sbin/smtpd"), make: (o = {}) => new OpenSmtpdTarget(o) as DaemonTarget, killRole: "queue", minRoles: 3 },
  { name: "postfix", binary: join(POSTFIX_DAEMON_DIR, "master"), make: (o = {}) => new PostfixTarget(o) as DaemonTarget, killRole: "qmgr", minRoles: 3 },
  // Exim is a target file only (targets/files/exim.target.yaml): no code of the toolkit knows it.
  // Idle, it is its listening daemon alone; its children come and go with the mail.
  { name: "exim", binary: EXIM, make: (o = {}) => createTarget("exim", o) as DaemonTarget, killRole: "daemon", minRoles: 1 },
  // Sendmail too (targets/files/sendmail.target.yaml), and it logs only through syslog(3): its
  // log reaches the target through the /dev/log of its namespace (syslog: true).
  { name: "sendmail", binary: SENDMAIL, make: (o = {}) => createTarget("sendmail", o) as DaemonTarget, killRole: "daemon", minRoles: 1 },
];

async function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(true));
  });
}

for (const mta of MTAS) {
  const { why, skip } = mtaAvailability(mta.name, mta.binary);

  test(`${mta.name}: starts isolated, delivers to the Maildir, flushes, stops; twice in a row without leftovers`, { skip }, async (t) => {
    requireMta(mta.name, why);
    for (let round = 1; round <= 2; round++) {
      const target = mta.make();
      t.after(() => target.stop());
      await target.start();
      const { port } = target.endpoint;
      const pid = target.pid as number;
      const roles = (await target.processes()).map((p) => p.role);
      assert.ok(roles.length >= mta.minRoles, `round ${round}: expected ${mta.minRoles}+ processes, got ${roles.join(", ")}`);
      const { id, replies } = await sendOne("127.0.0.1", port, "user@test.example");
      assert.equal(replies[replies.length - 1]?.code, 250, replies.map((r) => `${r.code} ${r.text}`).join(" | "));
      await target.flushQueue();
      const delivered = await waitFor(`${mta.name} delivery`, async () => {
        const d = await target.delivered();
        return d.some((m) => m.id === id) ? d : null;
      });
      assert.equal(delivered.filter((m) => m.id === id).length, 1, "delivered exactly once");
      assert.equal(await waitFor("empty queue", async () => ((await target.queueSize()) === 0 ? "empty" : null)), "empty");
      const unknown = await sendOne("127.0.0.1", port, "nobody@test.example");
      assert.equal(unknown.replies[3]?.klass, "permfail", "unknown mailbox refused");
      const dir = target.workDir;
      await target.stop();
      assert.equal(target.crash(), null, "a clean stop is not a crash");
      assert.ok(await portClosed(port), `round ${round}: port ${port} still open after stop`);
      assert.deepEqual(groupMembers(pid), [], `round ${round}: processes of its group left behind`);
      assert.equal(existsSync(dir), false, "working directory removed");
    }
  });

  test(`${mta.name}: killing the ${mta.killRole} role is detected as a crash with the log tail`, { skip }, async (t) => {
    requireMta(mta.name, why);
    const target = mta.make();
    t.after(() => target.stop());
    await target.start();
    const victim = (await target.processes()).find((p) => p.role === mta.killRole);
    assert.ok(victim !== undefined, `no ${mta.killRole} process among ${(await target.processes()).map((p) => p.role).join(", ")}`);
    process.kill(victim.pid, "SIGKILL");
    const crash = await waitFor("crash report", async () => target.crash());
    assert.ok(crash.logTail.length > 0);
    if (crash.source === "log") assert.match(crash.line ?? "", /fatal|exiting|lost child|killed by signal|throttling/);
    else assert.ok(crash.exitCode !== null || crash.signal !== null);
    // a restart starts clean: the earlier run's fatal lines do not count again
    await target.restart();
    const { replies } = await sendOne("127.0.0.1", target.endpoint.port, "user@test.example");
    assert.equal(replies.at(-1)?.code, 250);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(target.crash(), null, `a crash after the restart: ${JSON.stringify(target.crash())}`);
  });

  test(`${mta.name}: no network system call leaves loopback while mail flows (DNS isolated)`, { skip }, async (t) => {
    requireMta(mta.name, why);
    if (!existsSync("/usr/bin/strace")) assert.fail("strace is required (npm run setup:mtas installs it)");
    const traceDir = mkdtempSync(join(tmpdir(), "smtpchaos-trace-"));
    const trace = join(traceDir, "net.trace");
    const target = mta.make({ straceNetworkTo: trace });
    t.after(() => target.stop());
    t.after(() => rmSync(traceDir, { recursive: true, force: true }));
    await target.start();
    const { port } = target.endpoint;
    const ok = await sendOne("127.0.0.1", port, "user@test.example");
    assert.equal(ok.replies[ok.replies.length - 1]?.code, 250);
    // A foreign domain makes a careless MTA resolve MX records; over IPv6 too.
    await sendOne("127.0.0.1", port, "someone@example.com");
    if (target.endpoint.host6 !== undefined) await sendOne(target.endpoint.host6, port, "someone@example.net");
    await target.flushQueue();
    await new Promise((r) => setTimeout(r, 1500));
    await target.stop();
    const text = readFileSync(trace, "utf8");
    const addrs = networkPeers(text);
    assert.ok(addrs.includes("127.0.0.1"), "the trace saw loopback traffic (tracing works)");
    if (await ipv6LoopbackAvailable()) assert.ok(addrs.includes("::1"), "the trace saw the ::1 listener being bound");
    const outside = addrs.filter((a) => !isLoopbackOrAny(a));
    const log = text;
    assert.deepEqual(outside, [], `network calls to non-loopback addresses:\n${log.split("\n").filter((l) => outside.some((a) => l.includes(a))).slice(0, 10).join("\n")}`);
  });
}

for (const mta of MTAS) {
  const { why, skip } = mtaAvailability(mta.name, mta.binary);

  test(`${mta.name}: also listens on ::1 at the same port (its own socket), greets and delivers from there`, { skip }, async (t) => {
    requireMta(mta.name, why);
    if (!(await ipv6LoopbackAvailable())) return t.skip("this machine has no IPv6 loopback");
    const target = mta.make();
    t.after(() => target.stop());
    await target.start();
    const { port, host6 } = target.endpoint;
    assert.equal(host6, "::1");
    const pid = target.pid as number;
    assert.ok(holdsListener([pid, ...descendants(pid).map((p) => p.pid)], port, 6), `the daemon holds [::1]:${port}`);
    const { id, replies } = await sendOne("::1", port, "user@test.example");
    assert.equal(replies[0]?.code, 220);
    assert.equal(replies.at(-1)?.code, 250, replies.map((r) => `${r.code} ${r.text}`).join(" | "));
    await target.flushQueue();
    const delivered = await waitFor(`${mta.name} delivery of the ::1 message`, async () => (await target.delivered()).find((m) => m.id === id));
    assert.match(delivered.data.toString(), /\[(IPv6:)?::1\]/, "its Received line names the IPv6 client");
    const relay = await sendOne("::1", port, "someone@elsewhere.example");
    assert.equal(relay.replies[3]?.klass, "permfail", "no relaying for ::1 clients either");
  });

  test(`${mta.name}: with ipv6: false it listens on 127.0.0.1 only`, { skip }, async (t) => {
    requireMta(mta.name, why);
    const target = mta.make({ ipv6: false });
    t.after(() => target.stop());
    await target.start();
    assert.equal(target.endpoint.host6, undefined);
    assert.equal(hasListener(target.endpoint.port, [6]), false);
  });

  // The queue commands once picked a short-lived local-delivery fork of OpenSMTPD's parent as
  // "the daemon" and failed when it exited; a restart under load also raced the old processes.
  test(`${mta.name}: queue commands reach the daemon while it delivers, before and after a restart under load`, { skip }, async (t) => {
    requireMta(mta.name, why);
    const target = mta.make();
    t.after(() => target.stop());
    await target.start();
    const { port } = target.endpoint;
    let sending = true;
    const sent: string[] = [];
    const senders = Array.from({ length: 4 }, async () => {
      while (sending) {
        try {
          const { id, replies } = await sendOne("127.0.0.1", port, "user@test.example");
          if (replies[replies.length - 1]?.code === 250) sent.push(id);
        } catch {
          // the restart cuts sessions and refuses connections for a moment: that is not under test
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    });
    try {
      for (const phase of ["before restart", "after restart"]) {
        if (phase === "after restart") {
          await target.restart();
          assert.equal(target.endpoint.port, port, "a restart keeps the port");
        }
        const until = Date.now() + 3000;
        let calls = 0;
        while (Date.now() < until) {
          await target.queueSize();
          await target.flushQueue();
          calls++;
        }
        assert.ok(calls > 5, `${phase}: only ${calls} queue commands in 3 s`);
      }
    } finally {
      sending = false;
      await Promise.allSettled(senders);
    }
    assert.ok(sent.length > 10, `only ${sent.length} messages accepted`);
    assert.equal(target.crash(), null, "no crash");
  });
}

// smtpd's parent forks a child per mailbox delivery with its own command line: smtpctl must keep
// aiming at the parent while mail is delivered (a fork that exits under nsenter looked like a
// dead daemon to the monkey's drain).
test("opensmtpd: smtpctl reaches the daemon, not one of its delivery forks, while mail is delivered", { skip: mtaAvailability("opensmtpd", MTAS[0]?.binary ?? "").skip }, async (t) => {
  requireMta("opensmtpd", mtaAvailability("opensmtpd", MTAS[0]?.binary ?? "").why);
  const target = new OpenSmtpdTarget();
  t.after(() => target.stop());
  await target.start();
  const parent = target.pid as number;
  const parentCmd = procInfo(parent)?.cmdline ?? "";
  assert.ok(parentCmd.startsWith(`${target.smtpd} -d`), parentCmd);
  let forksSeen = 0;
  let sent = 0;
  // bounded: at most 60 messages, 4 at a time (the listen backlog is 5)
  while (forksSeen === 0 && sent < 60) {
    const batch = Array.from({ length: 4 }, () => sendOne("127.0.0.1", target.endpoint.port, "user@test.example"));
    sent += batch.length;
    let pending = true;
    const done = Promise.all(batch).finally(() => (pending = false));
    const until = Date.now() + 1500;
    while (pending || (forksSeen === 0 && Date.now() < until)) {
      forksSeen += descendants(parent).filter((p) => p.cmdline === parentCmd).length;
      assert.equal(target.smtpdPid(), parent, "smtpctl aims at the parent");
      await new Promise((r) => setImmediate(r));
    }
    await done;
    await target.queueSize();
  }
  assert.ok(forksSeen > 0, `the daemon forked deliveries while smtpctl ran (${sent} messages sent)`);
  t.diagnostic(`${sent} messages sent before a delivery fork was seen`);
  assert.equal(target.crash(), null);
});
