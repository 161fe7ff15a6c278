// DaemonTarget's start-up, with a tiny stand-in daemon (no root needed): a greeting on the port
// counts only when the daemon itself holds the listener.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DaemonTarget } from "../../targets/process/daemon-target.js";
import { ipv6LoopbackAvailable } from "../../targets/process/ipv6.js";
import { hasListener } from "../../targets/process/procfs.js";
import { freePort } from "../../targets/process/free-port.js";
import type { DaemonCommand, DaemonTargetOptions } from "../../targets/process/daemon-target.js";

const FAKE_DAEMON = `
const net = require("node:net");
const s = net.createServer((c) => {
  c.on("error", () => {});
  c.write("220 stand-in daemon\\r\\n");
  c.on("data", (d) => { if (/QUIT/i.test(String(d))) c.end("221 bye\\r\\n"); });
});
s.on("error", (e) => { console.error("fatal: bind: " + e.message); process.exit(1); });
// argv[3]: "::1" to listen there too, at the same port, as the real targets do
s.listen(Number(process.argv[2]), "127.0.0.1", () => {
  if (process.argv[3] !== "::1") return;
  const s6 = net.createServer((c) => s.emit("connection", c));
  s6.on("error", (e) => { console.error("fatal: bind: " + e.message); process.exit(1); });
  s6.listen(Number(process.argv[2]), "::1");
});
`;

/** A foreign SMTP-looking listener: what the daemon must not be mistaken for. */
async function impostor(port = 0, host = "127.0.0.1"): Promise<net.Server> {
  const srv = net.createServer((c) => {
    c.on("error", () => {});
    c.end("220 impostor\r\n");
  });
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(port, host, resolve);
  });
  return srv;
}

class StandIn extends DaemonTarget {
  readonly name = "stand-in";
  protected readonly masterRole = "master";
  readonly prepared: number[] = [];
  readonly stolen: net.Server[] = [];

  constructor(
    o: DaemonTargetOptions,
    private readonly stealFirstPort = false,
    /** false: a daemon that ignores its ::1 listen line */
    private readonly obeys6 = true,
  ) {
    super(o);
  }

  protected checkInstalled(): void {}
  protected async prepare(dir: string, port: number): Promise<void> {
    this.prepared.push(port);
    // the race we guard against: someone binds the port after it was chosen, before the daemon does
    if (this.stealFirstPort && this.prepared.length === 1) this.stolen.push(await impostor(port));
    await writeFile(join(dir, "daemon.cjs"), FAKE_DAEMON);
  }
  protected command(dir: string): DaemonCommand {
    return { command: process.execPath, args: [join(dir, "daemon.cjs"), String(this.port), this.ipv6 && this.obeys6 ? "::1" : ""] };
  }
  protected fatalPatterns(): RegExp[] {
    return [/fatal/];
  }
  protected maildirs(): string[] {
    return [];
  }
  protected roleOf(): string | null {
    return null;
  }
  async flushQueue(): Promise<void> {}
  async queueSize(): Promise<number> {
    return 0;
  }
}

test("a greeting from another program on the daemon's port is not taken for the daemon's", async (t) => {
  const other = await impostor();
  t.after(() => other.close());
  const port = (other.address() as net.AddressInfo).port;
  const target = new StandIn({ port });
  t.after(() => target.stop());
  await assert.rejects(target.start(), (err: Error) => {
    assert.match(err.message, new RegExp(`stand-in did not start: .*port ${port} is held by another program`));
    assert.match(err.message, /log tail:\n.*fatal: bind: .*EADDRINUSE/s);
    return true;
  });
  assert.deepEqual(target.prepared, [port], "a port the user chose is not swapped for another");
});

test("a port of our choosing that is taken before the daemon binds it is replaced, and the daemon starts", async (t) => {
  const target = new StandIn({}, true);
  t.after(async () => {
    await target.stop();
    for (const s of target.stolen) s.close();
  });
  await target.start();
  assert.equal(target.prepared.length, 2, `ports tried: ${target.prepared.join(", ")}`);
  const [first, second] = target.prepared as [number, number];
  assert.notEqual(second, first);
  assert.equal(target.endpoint.port, second);
  const [lo] = (await import("node:fs")).readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
  assert.ok(second < (lo as number), `port ${second} is below the ephemeral range (from ${lo})`);
  const status = await target.status();
  assert.deepEqual(status.banner, { ok: true, line: "220 stand-in daemon" });
});

test("the daemon listens on ::1 at the same port when the machine has it; a stranger on [::1]:port is not taken for it", async (t) => {
  if (!(await ipv6LoopbackAvailable())) return t.skip("this machine has no IPv6 loopback");
  const target = new StandIn({});
  t.after(() => target.stop());
  await target.start();
  assert.equal(target.endpoint.host6, "::1");
  assert.ok(hasListener(target.endpoint.port, [6]));
  await target.stop();

  // A user-chosen port held on ::1 only: the daemon cannot bind it there, and the error says why.
  const other = await impostor(0, "::1");
  t.after(() => other.close());
  const port = (other.address() as net.AddressInfo).port;
  const held = new StandIn({ port });
  t.after(() => held.stop());
  await assert.rejects(held.start(), new RegExp(`port ${port} is held by another program`));

  // A daemon that greets on 127.0.0.1 but leaves ::1 to the stranger is not started either: the
  // storm's IPv6 sessions would go to the stranger.
  const deaf = new StandIn({ port, startTimeoutMs: 1500 }, false, false);
  t.after(() => deaf.stop());
  await assert.rejects(deaf.start(), /greets with "220 stand-in daemon" but the listener is not the daemon's/);
});

test("with ipv6: false the daemon is asked for 127.0.0.1 only and host6 stays unset", async (t) => {
  const target = new StandIn({ ipv6: false });
  t.after(() => target.stop());
  await target.start();
  assert.equal(target.endpoint.host6, undefined);
  assert.equal(hasListener(target.endpoint.port, [6]), false);
});

test("freePort picks a port free on 127.0.0.1 and on ::1 (where the targets listen), below the ephemeral range", async (t) => {
  const port = await freePort();
  const hosts = (await ipv6LoopbackAvailable()) ? ["127.0.0.1", "::1"] : ["127.0.0.1"];
  for (const host of hosts) {
    const s = net.createServer();
    t.after(() => s.close());
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, host, resolve);
    });
  }
  const [lo] = (await import("node:fs")).readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
  assert.ok(port < (lo as number), `port ${port} is below the ephemeral range (from ${lo})`);
});
