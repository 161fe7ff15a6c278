// The proxy's faults around the final dot, against a local smtp-server, driven through smtp/.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { SMTPServer } from "smtp-server";
import type { AddressInfo } from "node:net";
import { buildMessage, dotStuff, readMessageId, SmtpDisconnectedError, SmtpSession } from "../../smtp/index.js";
import { Injector } from "../../monkey/injector.js";
import { validatePlan } from "../../monkey/plan.js";
import { SmtpProxy } from "../../monkey/layers/proxy.js";
import { EndOfDataScanner } from "../../monkey/layers/end-of-data.js";

interface Upstream {
  port: number;
  received: Array<{ id: string | null; at: number; size: number }>;
  stop(): Promise<void>;
}

async function upstream(): Promise<Upstream> {
  const received: Upstream["received"] = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    onData(stream, _s, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks);
        received.push({ id: readMessageId(raw), at: Date.now(), size: raw.length });
        cb(null);
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.server.address() as AddressInfo).port,
    received,
    stop: () =>
      new Promise<void>((r) => {
        for (const c of server.connections) c._socket.destroy();
        server.close(() => r());
      }),
  };
}

async function withProxy(points: Record<string, unknown>, t: { after: (fn: () => Promise<void>) => void }) {
  const up = await upstream();
  t.after(() => up.stop());
  const injector = new Injector({ plan: validatePlan({ points }), seed: 2 });
  const proxy = new SmtpProxy({ upstream: { host: "127.0.0.1", port: up.port }, injector });
  await proxy.start();
  t.after(() => proxy.stop());
  return { up, proxy, injector, port: proxy.address()?.port ?? 0 };
}

async function transaction(port: number, body: string) {
  const s = await SmtpSession.connect({ host: "127.0.0.1", port, timeoutMs: 5000 });
  assert.equal((await s.readReply()).code, 220);
  assert.equal((await s.ehlo("client.test")).reply.code, 250);
  assert.equal((await s.command("MAIL FROM:<a@client.test>")).code, 250);
  assert.equal((await s.command("RCPT TO:<user@test.example>")).code, 250);
  assert.equal((await s.command("DATA")).code, 354);
  const msg = buildMessage({ from: "a@client.test", to: ["user@test.example"], body });
  return { s, msg };
}

test("proxy: clean pass-through keeps dot-stuffed lines and delivers once", async (t) => {
  const { up, port } = await withProxy({}, t);
  const { s, msg } = await transaction(port, ".leading dot\r\n..two\r\n.\r\nend\r\n");
  const r = await s.sendData(msg.data);
  assert.equal(r.code, 250);
  await s.quit();
  assert.equal(up.received.length, 1);
  assert.equal(up.received[0]?.id, msg.id);
});

test("proxy: net.stall holds the final dot for the stall duration, then the 250 arrives", async (t) => {
  const { up, port, proxy } = await withProxy({ "net.stall": { always: true, duration: "400ms" } }, t);
  const { s, msg } = await transaction(port, "hello\r\n");
  const t0 = Date.now();
  const r = await s.sendData(msg.data);
  const took = Date.now() - t0;
  assert.equal(r.code, 250);
  assert.ok(took >= 380, `the 250 came after ${took} ms, expected a stall of 400 ms`);
  assert.equal(proxy.stats.stalls, 1);
  assert.equal(up.received.length, 1);
  assert.ok((up.received[0]?.at ?? 0) - t0 >= 380, "the upstream saw the end of data only after the stall");
  await s.quit();
});

test("proxy: net.reset delivers upstream but resets the client before the 250", async (t) => {
  const { up, port, proxy } = await withProxy({ "net.reset": { always: true } }, t);
  const { s, msg } = await transaction(port, "hello\r\n");
  await assert.rejects(s.sendData(msg.data), (e: unknown) => e instanceof SmtpDisconnectedError && e.reset);
  assert.equal(proxy.stats.resets, 1);
  for (let i = 0; i < 50 && up.received.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(up.received.length, 1, "the MTA accepted the message the client never saw acknowledged");
  assert.equal(up.received[0]?.id, msg.id);
});

test("proxy: net.reset scheduled `once: 2` hits only the second message of a session", async (t) => {
  const { up, port } = await withProxy({ "net.reset": { once: 2 } }, t);
  const { s, msg } = await transaction(port, "one\r\n");
  assert.equal((await s.sendData(msg.data)).code, 250);
  assert.equal((await s.command("MAIL FROM:<a@client.test>")).code, 250);
  assert.equal((await s.command("RCPT TO:<user@test.example>")).code, 250);
  assert.equal((await s.command("DATA")).code, 354);
  const second = buildMessage({ from: "a@client.test", to: ["user@test.example"], body: "two\r\n" });
  await assert.rejects(s.sendData(second.data), SmtpDisconnectedError);
  for (let i = 0; i < 50 && up.received.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(up.received.map((m) => m.id), [msg.id, second.id]);
});

test("proxy: net.split and net.latency still deliver intact", async (t) => {
  const { up, port, proxy } = await withProxy({ "net.split": { always: true }, "net.latency": { always: true, latency: "30ms" } }, t);
  const { s, msg } = await transaction(port, "x\r\n".repeat(100));
  const t0 = Date.now();
  assert.equal((await s.sendData(msg.data)).code, 250);
  assert.ok(Date.now() - t0 >= 55, "latency applies both ways");
  assert.equal(proxy.stats.splits, 1);
  assert.equal(up.received[0]?.id, msg.id);
  await s.quit();
});

test("property: the end-of-data scanner finds the marker exactly once under any chunking", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constantFrom(".", "..", "\r", "\n", "\r\n", ".\r\n", "x"), fc.string({ maxLength: 5 })), { maxLength: 30 }),
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
      (parts, cuts) => {
        const body = dotStuff(Buffer.from(parts.join("").replace(/\r?\n|\r/g, "\r\n"), "latin1"));
        const bodyCrlf = body.length === 0 || body.subarray(-2).toString() === "\r\n" ? body : Buffer.concat([body, Buffer.from("\r\n")]);
        const wire = Buffer.concat([bodyCrlf, Buffer.from(".\r\nQUIT\r\n")]);
        const sc = new EndOfDataScanner();
        const forwarded: Buffer[] = [];
        let found = 0;
        let after = Buffer.alloc(0);
        let off = 0;
        let i = 0;
        while (off < wire.length) {
          const n = cuts[i++ % cuts.length] as number;
          const chunk = wire.subarray(off, off + n);
          off += n;
          if (found > 0) {
            after = Buffer.concat([after, chunk]);
            continue;
          }
          const r = sc.push(chunk);
          forwarded.push(r.body);
          if (r.found) {
            found++;
            assert.equal(r.dot.toString(), ".\r\n");
            after = Buffer.from(r.rest);
          }
        }
        assert.equal(found, 1);
        assert.deepEqual(Buffer.concat(forwarded), bodyCrlf, "everything before the final dot, nothing more");
        assert.equal(after.toString(), "QUIT\r\n");
      },
    ),
    { numRuns: 300 },
  );
});
