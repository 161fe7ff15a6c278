import { test } from "node:test";
import assert from "node:assert/strict";
import type net from "node:net";
import { SMTPServer } from "smtp-server";
import { SmtpSession } from "../../smtp/session.js";
import { freePort } from "../../targets/process/free-port.js";
import { buildMessage } from "../../smtp/message.js";
import { SmtpConnectError, SmtpDisconnectedError, SmtpProtocolError, SmtpTimeoutError } from "../../smtp/errors.js";
import { startRawServer } from "./raw-server.js";

test("banner, EHLO capabilities and pipelined replies arrive in order", async (t) => {
  const srv = await startRawServer(async (peer) => {
    peer.send("220 mx.test ESMTP\r\n");
    assert.equal((await peer.line()).text, "EHLO client");
    peer.send("250-mx.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
    await peer.line();
    await peer.line();
    // both replies in one segment
    peer.send("250 2.1.0 sender ok\r\n550 5.1.1 no such user\r\n");
  });
  t.after(() => srv.close());
  const s = await SmtpSession.connect({ host: srv.host, port: srv.port, timeoutMs: 2000 });
  t.after(() => s.close());
  assert.equal((await s.readReply()).code, 220);
  const { capabilities } = await s.ehlo("client");
  assert.ok(capabilities.has("PIPELINING"));
  assert.equal(capabilities.size(), 1000);
  s.writeLines(["MAIL FROM:<a@b.example>", "RCPT TO:<c@d.example>"]);
  const mail = await s.readReply();
  const rcpt = await s.readReply();
  assert.equal(mail.enhanced?.text, "2.1.0");
  assert.equal(rcpt.code, 550);
  assert.equal(rcpt.klass, "permfail");
  const log = s.transcript?.format() ?? "";
  assert.match(log, />>> EHLO client/);
  assert.match(log, /<<< 550 5\.1\.1 no such user/);
});

test("a silent server produces a timeout that says what we waited for", async (t) => {
  const srv = await startRawServer(() => {});
  t.after(() => srv.close());
  const s = await SmtpSession.connect({ host: srv.host, port: srv.port, timeoutMs: 150 });
  t.after(() => s.close());
  await assert.rejects(s.readReply(undefined, "banner"), (e: unknown) => {
    assert.ok(e instanceof SmtpTimeoutError);
    assert.equal(e.waitingFor, "banner");
    assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${srv.port}: timed out after 150 ms waiting for banner`));
    return true;
  });
});

test("a close mid-reply is a disconnect carrying the partial reply", async (t) => {
  const srv = await startRawServer((peer) => {
    peer.send("220-first line\r\n220-second");
    peer.socket.end();
  });
  t.after(() => srv.close());
  const s = await SmtpSession.connect({ host: srv.host, port: srv.port, timeoutMs: 2000 });
  await assert.rejects(s.readReply(), (e: unknown) => {
    assert.ok(e instanceof SmtpProtocolError || e instanceof SmtpDisconnectedError, String(e));
    return true;
  });
  assert.ok(s.closed);
});

test("a reset is reported as a reset", async (t) => {
  const srv = await startRawServer(async (peer) => {
    peer.send("220 hi\r\n");
    await peer.line();
    peer.socket.resetAndDestroy();
  });
  t.after(() => srv.close());
  const s = await SmtpSession.connect({ host: srv.host, port: srv.port, timeoutMs: 2000 });
  await s.readReply();
  await assert.rejects(s.command("MAIL FROM:<>"), (e: unknown) => {
    assert.ok(e instanceof SmtpDisconnectedError, String(e));
    assert.equal(e.reset, true);
    assert.equal(e.waitingFor, "reply to MAIL FROM");
    return true;
  });
});

test("a 421 followed by a close: the reply is read, then the disconnect is seen", async (t) => {
  const srv = await startRawServer((peer) => {
    peer.send("421 4.3.2 shutting down\r\n");
    peer.socket.end();
  });
  t.after(() => srv.close());
  const s = await SmtpSession.connect({ host: srv.host, port: srv.port, timeoutMs: 2000 });
  const before = await s.waitForClose();
  assert.equal(before.length, 1);
  assert.equal(before[0]?.code, 421);
  assert.ok(s.closed);
});

test("garbage from the server is a protocol error", async (t) => {
  const srv = await startRawServer((peer) => peer.send("HTTP/1.1 400 Bad Request\r\n"));
  t.after(() => srv.close());
  const s = await SmtpSession.connect({ host: srv.host, port: srv.port, timeoutMs: 2000 });
  t.after(() => s.close());
  await assert.rejects(s.readReply(), SmtpProtocolError);
});

test("connection refused names host:port and the reason", async () => {
  const port = await freePort(); // nothing listens there
  await assert.rejects(SmtpSession.connect({ host: "127.0.0.1", port, timeoutMs: 2000 }), (e: unknown) => {
    assert.ok(e instanceof SmtpConnectError);
    assert.equal(e.code, "ECONNREFUSED");
    assert.match(e.message, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
    return true;
  });
});

test("IPv6 loopback works and is shown bracketed", async (t) => {
  const srv = await startRawServer((peer) => peer.send("220 v6\r\n"), "::1");
  t.after(() => srv.close());
  const s = await SmtpSession.connect({ host: "::1", port: srv.port, timeoutMs: 2000 });
  t.after(() => s.close());
  assert.equal((await s.readReply()).text, "v6");
  assert.equal(s.remote, `[::1]:${srv.port}`);
});

async function startSmtpServer(opts: { secure: boolean }): Promise<{ port: number; received: Buffer[]; close: () => Promise<void> }> {
  const received: Buffer[] = [];
  const server = new SMTPServer({
    secure: opts.secure,
    closeTimeout: 200,
    authOptional: true,
    logger: false,
    onData(stream, _session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        received.push(Buffer.concat(chunks));
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.server.address() as net.AddressInfo).port;
  return { port, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test("STARTTLS upgrade, then a dot-stuffed message is received intact", async (t) => {
  const srv = await startSmtpServer({ secure: false });
  t.after(() => srv.close());
  const s = await SmtpSession.connect({ host: "127.0.0.1", port: srv.port, timeoutMs: 5000 });
  t.after(() => s.close());
  await s.readReply();
  const { capabilities } = await s.ehlo("client.test");
  assert.ok(capabilities.has("STARTTLS"));
  assert.equal((await s.command("STARTTLS")).code, 220);
  const info = await s.startTls();
  assert.match(info.protocol ?? "", /TLS/);
  assert.ok(s.tlsInfo !== null);
  await s.ehlo("client.test");
  const msg = buildMessage({ from: "a@x.example", to: ["b@y.example"], body: ".leading dot\n..two\n.\nend" });
  assert.equal((await s.command("MAIL FROM:<a@x.example>")).code, 250);
  assert.equal((await s.command("RCPT TO:<b@y.example>")).code, 250);
  assert.equal((await s.command("DATA")).code, 354);
  assert.equal((await s.sendData(msg.data)).code, 250);
  assert.equal((await s.quit())?.code, 221);
  assert.equal(srv.received.length, 1);
  assert.ok(srv.received[0]?.toString().endsWith("\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n"), JSON.stringify(srv.received[0]?.toString()));
});

test("implicit TLS connects and reads the banner over TLS", async (t) => {
  const srv = await startSmtpServer({ secure: true });
  t.after(() => srv.close());
  const s = await SmtpSession.connect({ host: "127.0.0.1", port: srv.port, tls: "implicit", timeoutMs: 5000 });
  t.after(() => s.close());
  assert.equal((await s.readReply()).code, 220);
  assert.ok(s.tlsInfo !== null);
});

test("a large message is written with backpressure and accepted", async (t) => {
  const srv = await startSmtpServer({ secure: false });
  t.after(() => srv.close());
  const s = await SmtpSession.connect({ host: "127.0.0.1", port: srv.port, timeoutMs: 10000 });
  t.after(() => s.close());
  await s.readReply();
  await s.ehlo("c");
  await s.command("MAIL FROM:<a@x.example>");
  await s.command("RCPT TO:<b@y.example>");
  await s.command("DATA");
  const msg = buildMessage({ from: "a@x.example", to: ["b@y.example"], size: 3 * 1024 * 1024 });
  assert.equal((await s.sendData(msg.data)).code, 250);
  assert.equal(srv.received[0]?.length, msg.data.length);
});
