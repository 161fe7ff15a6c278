import { test } from "node:test";
import { isLive } from "../../targets/process/procfs.js";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { SMTPServer } from "smtp-server";
import type { AddressInfo } from "node:net";
import { EmbeddedTarget } from "../../targets/embedded/target.js";
import { InjectedFault } from "../../targets/embedded/fault-points.js";
import type { FaultPointName } from "../../targets/embedded/fault-points.js";
import { readMessageId } from "../../smtp/message.js";
import { sendOne, waitFor } from "./helpers.js";

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

test("smtpchaos target start/status/stop round trip", async () => {
  const state = mkdtempSync(join(tmpdir(), "smtpchaos-state-"));
  const cli = (args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) =>
      execFile(process.execPath, ["dist/bin/smtpchaos.js", "target", ...args, "--state", state], (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : Number(err.code), out: stdout + stderr }),
      ),
    );
  const start = await cli(["start", "embedded"]);
  assert.equal(start.code, 0, start.out);
  const m = /pid (\d+), listening on 127\.0\.0\.1:(\d+)/.exec(start.out);
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
