import { test } from "node:test";
import { isLive } from "../../targets/process/procfs.js";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { SMTPServer } from "smtp-server";
import type { AddressInfo } from "node:net";
import { EmbeddedTarget } from "../../targets/embedded/target.js";
import { SENDER_DOMAIN } from "../../targets/target.js";
import { InjectedFault } from "../../targets/embedded/fault-points.js";
import type { FaultPointName } from "../../targets/embedded/fault-points.js";
import { readMessageId } from "../../smtp/message.js";
import { sendOne, waitFor } from "./helpers.js";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SmtpSession } from "../../smtp/session.js";
import { ipv6LoopbackAvailable } from "../../targets/process/ipv6.js";
import { hasListener } from "../../targets/process/procfs.js";
import { READY_PREFIX } from "../../targets/embedded/protocol.js";
import type { ReadyLine } from "../../targets/embedded/protocol.js";

test("embedded: accepts, spools, delivers to the Maildir with the ledger id, and cleans up", async (t) => {
  const target = new EmbeddedTarget();
  t.after(() => target.stop());
  await target.start();
  const dir = target.workDir;
  const { id, replies } = await sendOne("127.0.0.1", target.endpoint.port, "user@test.example");
  const final = replies[replies.length - 1];
  assert.equal(final?.code, 250);
  assert.match(final?.text ?? "", /queued as/);
  const delivered = await waitFor("delivery", async () => {
    const d = await target.delivered();
    return d.length === 1 ? d : null;
  });
  assert.equal(delivered[0]?.id, id);
  assert.match(delivered[0]?.data.toString() ?? "", /^Received: from client\.example/);
  assert.equal(await target.queueSize(), 0);
  const st = await target.status();
  assert.equal(st.running, true);
  assert.ok(st.banner?.ok);
  await target.stop();
  assert.equal(existsSync(dir), false, "temporary working directory removed");
});

test("embedded: unknown users, relaying and broken paths are refused with 5xx", async (t) => {
  const target = new EmbeddedTarget();
  t.after(() => target.stop());
  await target.start();
  const unknown = await sendOne("127.0.0.1", target.endpoint.port, "nobody@test.example");
  assert.equal(unknown.replies[3]?.code, 550);
  assert.equal(unknown.replies[3]?.enhanced?.text, "5.1.1");
  const relay = await sendOne("127.0.0.1", target.endpoint.port, "someone@elsewhere.example");
  assert.equal(relay.replies[3]?.code, 554);
  assert.equal(relay.replies[3]?.enhanced?.text, "5.7.1");
});

class OneShot {
  fired = 0;
  constructor(private readonly point: FaultPointName) {}
  check(point: FaultPointName): void {
    if (point === this.point && this.fired === 0) {
      this.fired++;
      throw new InjectedFault(point, "ENOSPC");
    }
  }
}

for (const point of ["queue.open", "queue.write", "queue.fsync", "queue.rename", "alloc"] as const) {
  test(`embedded: an injected ${point} failure at DATA is a 451, nothing is queued, and a retry goes through`, async (t) => {
    const target = new EmbeddedTarget();
    t.after(() => target.stop());
    await target.start();
    const fault = new OneShot(point);
    target.setFaults(fault);
    const first = await sendOne("127.0.0.1", target.endpoint.port, "user@test.example");
    const reply = first.replies[first.replies.length - 1];
    assert.equal(reply?.code, 451, `got ${reply?.code} ${reply?.text}`);
    assert.equal(reply?.klass, "tempfail");
    assert.equal(fault.fired, 1);
    assert.equal(await target.queueSize(), 0);
    const second = await sendOne("127.0.0.1", target.endpoint.port, "user@test.example");
    assert.equal(second.replies[second.replies.length - 1]?.code, 250);
    const ids = await waitFor("delivery", async () => {
      const d = await target.delivered();
      return d.length > 0 ? d.map((m) => m.id) : null;
    });
    assert.deepEqual(ids, [second.id], "only the acknowledged message is delivered");
  });
}

test("embedded: a message whose recipient is gone at delivery bounces to the sender's Maildir; queued mail is listed by id", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-embedded-bounce-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const from = `sender7@${SENDER_DOMAIN}`;
  // held: both stay queued, and the queue lists their ids
  const before = new EmbeddedTarget({ dir, users: ["user", "gone"], hold: true });
  t.after(() => before.stop());
  await before.start();
  const gone = await sendOne("127.0.0.1", before.endpoint.port, "gone@test.example", { from });
  const kept = await sendOne("127.0.0.1", before.endpoint.port, "user@test.example", { from });
  assert.deepEqual((await before.queueIds()).sort(), [gone.id, kept.id].sort());
  await before.stop();
  // the same spool and mailboxes, without the user "gone": its message bounces after its 250
  const after = new EmbeddedTarget({ dir, users: ["user"] });
  t.after(() => after.stop());
  await after.start();
  const ids = await waitFor("the delivery and the bounce", async () => {
    const d = await after.deliveredIds();
    return d.bounced.length > 0 && d.delivered.length > 0 ? d : null;
  });
  assert.deepEqual(ids, { delivered: [kept.id], bounced: [gone.id] });
  await waitFor("an empty queue", async () => (await after.queueIds()).length === 0);
  const dsn = (await after.delivered()).find((m) => m.bounceOf !== undefined);
  assert.ok(dsn !== undefined);
  assert.equal(dsn.bounceOf, gone.id);
  assert.equal(dsn.id, null, "a bounce carries the original's id in its body only");
  assert.ok(dsn.location.startsWith(join(dir, "bounces", "Maildir")), dsn.location);
  assert.match(dsn.data.toString(), /^Content-Type: multipart\/report; report-type=delivery-status/m);
  assert.match(dsn.data.toString(), /^Action: failed\r?$/m);
});

test("embedded: a lookup failure at RCPT is a 451 4.3.0", async (t) => {
  const target = new EmbeddedTarget();
  t.after(() => target.stop());
  await target.start();
  target.setFaults(new OneShot("lookup.recipients"));
  const r = await sendOne("127.0.0.1", target.endpoint.port, "user@test.example");
  assert.equal(r.replies[3]?.code, 451);
  assert.equal(r.replies[3]?.enhanced?.text, "4.3.0");
});

test("embedded (child): SIGKILL right after the 250 loses nothing; after restart the message is delivered exactly once", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-durable-"));
  const target = new EmbeddedTarget({ mode: "child", dir, hold: true });
  t.after(() => target.stop());
  t.after(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }));
  await target.start();
  const { id, replies } = await sendOne("127.0.0.1", target.endpoint.port, "user@test.example");
  assert.equal(replies[replies.length - 1]?.code, 250);
  const [proc] = await target.processes();
  assert.ok(proc !== undefined);
  process.kill(proc.pid, "SIGKILL");
  const crash = await waitFor("crash report", async () => target.crash());
  assert.equal(crash.signal, "SIGKILL");
  assert.equal(crash.source, "exit");
  assert.ok(crash.logTail.some((l) => l.includes("queued from=<sender@client.example>")), crash.logTail.join("\n"));
  assert.equal(await target.queueSize(), 1, "the acknowledged message is in the spool");
  await target.restart();
  assert.equal(target.crash(), null, "restart clears the crash");
  await target.flushQueue();
  const delivered = await waitFor("delivery after restart", async () => {
    const d = await target.delivered();
    return d.length > 0 && (await target.queueSize()) === 0 ? d : null;
  });
  assert.deepEqual(delivered.map((d) => d.id), [id]);
  // A second flush must not deliver again.
  await target.flushQueue();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await target.delivered()).length, 1);
});

test("embedded: relays to a next hop, retrying after a deferral, delivering once", async (t) => {
  const received: string[] = [];
  let attempts = 0;
  const hop = new SMTPServer({
    authOptional: true,
    logger: false,
    disabledCommands: ["STARTTLS"],
    closeTimeout: 200,
    onRcptTo(_a, _s, cb) {
      attempts++;
      if (attempts === 1) cb(Object.assign(new Error("4.7.1 greylisted, try again"), { responseCode: 451 }));
      else cb();
    },
    onData(stream, _s, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        received.push(readMessageId(Buffer.concat(chunks)) ?? "?");
        cb();
      });
    },
  });
  await new Promise<void>((r) => hop.listen(0, "127.0.0.1", () => r()));
  t.after(() => new Promise<void>((r) => hop.close(() => r())));
  const hopPort = (hop.server.address() as AddressInfo).port;
  const target = new EmbeddedTarget({ relayDomains: ["relay.example"], nextHop: { host: "127.0.0.1", port: hopPort }, retryDelaysMs: [200] });
  t.after(() => target.stop());
  await target.start();
  const { id, replies } = await sendOne("127.0.0.1", target.endpoint.port, "someone@relay.example");
  assert.equal(replies[replies.length - 1]?.code, 250);
  await waitFor("relay", async () => received.length === 1 && (await target.queueSize()) === 0);
  assert.deepEqual(received, [id]);
  assert.equal(attempts, 2, "first attempt deferred, second accepted");
  assert.ok(target.logs().some((l) => /deferred \(attempt 1/.test(l)));
});

test("smtpchaos target start/status/stop round trip", async (t) => {
  const state = mkdtempSync(join(tmpdir(), "smtpchaos-state-"));
  t.after(() => rmSync(state, { recursive: true, force: true }));
  const cli = (args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) =>
      execFile(process.execPath, ["dist/bin/smtpchaos.js", "target", ...args, "--state", state], (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : Number(err.code), out: stdout + stderr }),
      ),
    );
  const start = await cli(["start", "embedded"]);
  assert.equal(start.code, 0, start.out);
  const m = /toolkit host: pid (\d+)/.exec(start.out);
  assert.match(start.out, /listening on 127\.0\.0\.1:\d+/);
  assert.ok(m !== null, start.out);
  try {
    const status = await cli(["status", "embedded"]);
    assert.equal(status.code, 0, status.out);
    assert.match(status.out, /banner: 220 mx\.test\.example/);
    const again = await cli(["start", "embedded"]);
    assert.equal(again.code, 2);
    assert.match(again.out, /already running/);
  } finally {
    const stop = await cli(["stop", "embedded"]);
    assert.equal(stop.code, 0, stop.out);
  }
  assert.equal(isLive(Number(m[1])), false, "the daemon's pid is gone (or a zombie) after stop");
  assert.equal((await cli(["status", "embedded"])).code, 1);
});

async function banner(host: string, port: number, tls: "none" | "implicit" = "none"): Promise<string> {
  const s = await SmtpSession.connect({ host, port, tls, timeoutMs: 5000, transcript: null });
  try {
    const r = await s.readReply(undefined, "banner");
    return `${r.code} ${r.text}`;
  } finally {
    await s.quit();
  }
}

for (const mode of ["in-process", "child"] as const) {
  test(`embedded (${mode}): answers on ::1 at the same ports as on 127.0.0.1, one MTA behind both, also after a restart`, async (t) => {
    if (!(await ipv6LoopbackAvailable())) return t.skip("this machine has no IPv6 loopback");
    const target = new EmbeddedTarget({ mode });
    t.after(() => target.stop());
    await target.start();
    const ep = target.endpoint;
    assert.equal(ep.host6, "::1");
    assert.ok(ep.tlsPort !== undefined);
    assert.ok(hasListener(ep.port, [6]) && hasListener(ep.tlsPort, [6]), "listening on ::1 at both ports");
    assert.match(await banner("::1", ep.port), /^220 mx\.test\.example ESMTP/);
    assert.match(await banner("::1", ep.tlsPort, "implicit"), /^220 mx\.test\.example ESMTP/);
    const v6 = await sendOne("::1", ep.port, "user@test.example");
    assert.equal(v6.replies.at(-1)?.code, 250, v6.replies.map((r) => `${r.code} ${r.text}`).join(" | "));
    const v4 = await sendOne("127.0.0.1", ep.port, "user@test.example");
    assert.equal(v4.replies.at(-1)?.code, 250);
    // one spool and one set of mailboxes: both messages land in the same Maildir
    const delivered = await waitFor("both deliveries", async () => {
      const d = await target.delivered();
      return d.length === 2 ? d : null;
    });
    const byId = new Map(delivered.map((d) => [d.id, d.data.toString()]));
    assert.match(byId.get(v6.id) ?? "", /^Received: from client\.example \(\[::1\]\)/);
    assert.match(byId.get(v4.id) ?? "", /^Received: from client\.example \(\[127\.0\.0\.1\]\)/);
    await target.restart();
    assert.deepEqual(target.endpoint, ep, "a restart keeps the ports and the IPv6 address");
    assert.match(await banner("::1", ep.port), /^220 /);
  });
}

test("embedded: stop() ends sessions that came in over ::1 too (they belong to the same SMTP server)", async (t) => {
  if (!(await ipv6LoopbackAvailable())) return t.skip("this machine has no IPv6 loopback");
  const target = new EmbeddedTarget();
  t.after(() => target.stop());
  await target.start();
  const { port } = target.endpoint;
  const idle = await SmtpSession.connect({ host: "::1", port, timeoutMs: 10_000, transcript: null });
  t.after(() => idle.close());
  assert.equal((await idle.readReply(undefined, "banner")).code, 220);
  assert.equal((await idle.ehlo("client.example")).reply.code, 250);
  const started = Date.now();
  await target.stop();
  // closeTimeout is 1 s: a ::1 session the SMTP server did not know would keep stop() waiting for it
  assert.ok(Date.now() - started < 5000, `stop took ${Date.now() - started} ms`);
  assert.equal(hasListener(port, [4, 6]), false, "nothing listens on the port after stop");
  const after = await idle.command("NOOP").then(
    (r) => `${r.code}`,
    (err: Error) => err.name,
  );
  assert.notEqual(after, "250", "the ::1 session was ended by stop()");
});

test("embedded: ipv6: false listens on 127.0.0.1 only and leaves host6 unset", async (t) => {
  const target = new EmbeddedTarget({ ipv6: false });
  t.after(() => target.stop());
  await target.start();
  assert.equal(target.endpoint.host6, undefined);
  assert.equal(hasListener(target.endpoint.port, [6]), false);
  assert.match(await banner("127.0.0.1", target.endpoint.port), /^220 /);
});

const DAEMON = fileURLToPath(new URL("../../targets/embedded/daemon.js", import.meta.url));

// A private network namespace with IPv6 turned off on its loopback: ::1 is gone there, as on a
// host booted with IPv6 disabled. Needs root (unshare -n).
test("embedded (child): where ::1 is unavailable it starts on 127.0.0.1 only, host6 null", { skip: process.getuid?.() !== 0 ? "needs root (unshare -n)" : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-noipv6-"));
  t.after(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }));
  const opts = JSON.stringify({ dir, tlsPort: 0 });
  const child = spawn("unshare", ["-n", "sh", "-c", `ip link set lo up && sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 && exec '${process.execPath}' '${DAEMON}' '${opts}'`], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const ready = await waitFor("READY line", async () => out.split("\n").find((l) => l.startsWith(READY_PREFIX)) ?? (child.exitCode !== null ? assert.fail(`daemon exited: ${out}`) : null));
  const r = JSON.parse(ready.slice(READY_PREFIX.length)) as ReadyLine;
  assert.equal(r.host6, null, out);
  assert.ok(r.tlsPort !== null);
  assert.match(out, /no IPv6 loopback on this machine \(EADDRNOTAVAIL\): listening on 127\.0\.0\.1 only/);
  // it does answer on 127.0.0.1, inside its namespace
  const probe = await new Promise<string>((resolve) =>
    execFile("nsenter", ["-t", String(r.pid), "-n", process.execPath, "-e", `const s=require("net").connect(${r.port},"127.0.0.1");s.once("data",d=>{process.stdout.write(d);s.destroy()})`], (err, stdout) => resolve(err === null ? stdout : `error: ${err.message}`)),
  );
  assert.match(probe, /^220 mx\.test\.example ESMTP/);
  child.kill("SIGTERM");
  await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)));
});
