// Accept rate of a target: N messages over C concurrent connections, one message per
// connection (banner, EHLO, MAIL, RCPT, DATA, QUIT), 1 KB bodies, through the wire layer.
// usage: node dist/bench/accept-rate.js --target NAME [--messages N] [--concurrency C]
import { parseArgs } from "node:util";
import { startNamedTarget } from "../targets/registry.js";
import { SmtpSession, buildMessage } from "../smtp/index.js";

const { values } = parseArgs({
  options: { target: { type: "string", default: "embedded" }, messages: { type: "string", default: "2000" }, concurrency: { type: "string", default: "5" } },
});
const total = Number(values.messages);
const concurrency = Number(values.concurrency);

const t = await startNamedTarget(values.target as string);
try {
  const rcpt = t.mailboxes[0] as string;
  let next = 0;
  let accepted = 0;
  let failed = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      const s = await SmtpSession.connect({ host: t.endpoint.host, port: t.endpoint.port, timeoutMs: 30_000, transcript: null });
      try {
        await s.readReply();
        await s.ehlo("bench.example");
        await s.command("MAIL FROM:<bench@client.example>");
        await s.command(`RCPT TO:<${rcpt}>`);
        await s.command("DATA");
        const r = await s.sendData(buildMessage({ from: "bench@client.example", to: [rcpt], size: 1024 }).data);
        if (r.code === 250) accepted++;
        else failed++;
      } catch {
        failed++;
      } finally {
        await s.quit();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - started) / 1000;
  console.log(`${values.target}: ${accepted} accepted, ${failed} failed in ${secs.toFixed(2)} s = ${(accepted / secs).toFixed(0)} msg/s (concurrency ${concurrency}, 1 KB, one message per connection)`);
} finally {
  await t.stop();
}
