// Accept rate of a target: N messages over C concurrent connections, one message per
// connection (banner, EHLO, MAIL, RCPT, DATA, QUIT), 1 KB bodies, through the wire layer.
// usage: node dist/bench/accept-rate.js --target NAME [--messages N] [--concurrency C] [--syscall-shim]
import { startNamedTarget, targetNames, targetPlugin } from "../targets/registry.js";
import { PreparedMessage, buildMessage, runSmtpSession } from "../smtp/index.js";
import { parseCount } from "../common/args.js";
import { UsageError } from "../common/usage-error.js";
import { benchArgs, fail } from "./lib/args.js";

const USAGE = `usage: node dist/bench/accept-rate.js [--target NAME] [--messages N] [--concurrency C] [--syscall-shim]

Accept rate of a target: N messages (default 2000) over C concurrent connections (default 5),
one 1 KB message per connection. Targets: ${targetNames().join(", ")} (default embedded).
--syscall-shim: a real MTA runs with the monkey's syscall shim loaded and idle (its overhead).`;

const { target: targetName, total, concurrency, shim } = benchArgs("accept-rate", USAGE, { target: { type: "string" }, messages: { type: "string" }, concurrency: { type: "string" }, "syscall-shim": { type: "boolean" } }, (v) => {
  const target = typeof v.target === "string" ? v.target : "embedded";
  try {
    targetPlugin(target);
  } catch (err) {
    throw new UsageError(`--target: ${(err as Error).message}`);
  }
  const shim = v["syscall-shim"] === true;
  if (shim && targetPlugin(target).faultDefaults?.syscalls !== true) throw new UsageError(`--syscall-shim: the ${target} target does not load the syscall shim`);
  return { target, total: parseCount(typeof v.messages === "string" ? v.messages : "2000", "--messages"), concurrency: parseCount(typeof v.concurrency === "string" ? v.concurrency : "5", "--concurrency"), shim };
});

const t = await startNamedTarget(targetName, shim ? { syscalls: ["write", "fsync", "rename", "open"] } : {}).catch((err: unknown) => fail("accept-rate", `cannot start target "${targetName}": ${(err as Error).message}`));
try {
  const rcpt = t.mailboxes[0] as string;
  let next = 0;
  let accepted = 0;
  let failed = 0;
  const started = performance.now();
  const message = new PreparedMessage(buildMessage({ from: "bench@client.example", to: [rcpt], size: 1024 }).data);
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      const r = await runSmtpSession({
        host: t.endpoint.host,
        port: t.endpoint.port,
        timeoutMs: 30_000,
        helo: "bench.example",
        transcript: null,
        transactions: 1,
        transaction: () => ({ from: "bench@client.example", to: [rcpt], message: () => message }),
      });
      accepted += r.accepted;
      if (r.outcome !== "ok") failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - started) / 1000;
  console.log(`${targetName}: ${accepted} accepted, ${failed} failed in ${secs.toFixed(2)} s = ${(accepted / secs).toFixed(0)} msg/s (concurrency ${concurrency}, 1 KB, one message per connection${shim ? ", syscall shim loaded, idle" : ""})`);
} finally {
  await t.stop();
}
