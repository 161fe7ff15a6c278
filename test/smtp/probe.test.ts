// The one banner probe: a greeting is an answer; everything else is one BannerProbeError that
// names host:port and the reason, whatever went wrong on the wire.
import { test } from "node:test";
import assert from "node:assert/strict";
import type net from "node:net";
import { BannerProbeError, probeBanner } from "../../smtp/probe.js";
import { freePort } from "../../targets/process/free-port.js";
import { startRawServer } from "./raw-server.js";

test("a 220 greeting is the answer, and the probe says QUIT", async () => {
  let quit = false;
  const srv = await startRawServer(async (peer) => {
    peer.send("220 mx.test ESMTP ready\r\n");
    quit = (await peer.line()).text === "QUIT";
    peer.send("221 bye\r\n");
    peer.socket.end();
  });
  try {
    const r = await probeBanner("127.0.0.1", srv.port, { timeoutMs: 2000 });
    assert.deepEqual([r.code, r.text], [220, "mx.test ESMTP ready"]);
    assert.ok(quit);
  } finally {
    await srv.close();
  }
});

test("with requireReady false, any greeting is an answer (a status shows a 421 too)", async () => {
  const srv = await startRawServer((peer) => peer.send("421 4.3.2 busy\r\n"));
  try {
    const r = await probeBanner("127.0.0.1", srv.port, { timeoutMs: 2000, requireReady: false });
    assert.equal(r.code, 421);
  } finally {
    await srv.close();
  }
});

const FAILURES: Array<[string, ((s: net.Socket) => void) | null, RegExp]> = [
  ["refused", null, /^cannot connect: ECONNREFUSED$/],
  ["silent", () => {}, /^timed out after 300 ms waiting for banner$/],
  ["garbage", (s) => void s.write("HELLO THERE\r\n"), /^malformed reply/],
  ["resetting", (s) => s.resetAndDestroy(), /reset the connection|ECONNRESET/],
  ["closing", (s) => s.end(), /closed the connection while waiting for banner|ECONNRESET/],
  ["554", (s) => void s.write("554 5.7.1 go away\r\n"), /^not ready for mail: it greeted with 554 5\.7\.1 go away$/],
];

for (const [what, behave, reason] of FAILURES) {
  test(`a ${what} server: one error naming host:port and the reason`, async () => {
    const srv = behave === null ? null : await startRawServer((peer) => behave(peer.socket));
    const port = srv?.port ?? (await freePort());
    try {
      const err = await probeBanner("127.0.0.1", port, { timeoutMs: 300 }).then(
        () => assert.fail("the probe succeeded"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof BannerProbeError, String(err));
      assert.equal(err.where, `127.0.0.1:${port}`);
      assert.match(err.reason, reason);
      assert.equal(err.message, `127.0.0.1:${port}: ${err.reason}`);
      assert.ok(!err.message.slice(err.where.length).includes(`127.0.0.1:${port}`), `the address once: ${err.message}`);
    } finally {
      await srv?.close();
    }
  });
}
