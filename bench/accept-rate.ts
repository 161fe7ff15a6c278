// Accept rate of a target: N messages over C concurrent connections, one message per
// connection (banner, EHLO, MAIL, RCPT, DATA, QUIT), 1 KB bodies, through the wire layer.
// usage: node dist/bench/accept-rate.js --target NAME [--messages N] [--concurrency C] [--trap CALLS [--armed]] [--recording]
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNamedTarget, targetNames, targetPlugin } from "../targets/registry.js";
import { durableBinds, RecordingFs, recfsUnavailable } from "../targets/process/recfs.js";
import { describesFaults } from "../targets/fault-hooks.js";
import { SHIM_CALLS, type ShimCall } from "../targets/process/syscall-shim.js";
import { PreparedMessage, buildMessage, runSmtpSession } from "../smtp/index.js";
import { parseCount } from "../common/args.js";
import { UsageError } from "../common/errors.js";
import { benchArgs, fail } from "./lib/args.js";

const USAGE = `usage: node dist/bench/accept-rate.js [--target NAME] [--messages N] [--concurrency C] [--trap CALLS [--armed]] [--recording]

Accept rate of a target: N messages (default 2000) over C concurrent connections (default 5),
one 1 KB message per connection. Targets: ${targetNames().join(", ")} (default embedded).
--trap CALLS: a real MTA runs under the seccomp supervisor trapping these calls (comma-separated:
  ${SHIM_CALLS.join(", ")}), idle: its cost with nothing armed.
--armed: and a rule armed on every trapped call of every role that never fires (p=0): the cost
  of a plan (each call classified and counted).
--recording: the target's durable directories (queue, Maildirs) on the crash run's recording file
  system (FUSE, every operation logged with its data): its cost.`;

const { target: targetName, total, concurrency, trap, armed, recording } = benchArgs(
  "accept-rate",
  USAGE,
  { target: { type: "string" }, messages: { type: "string" }, concurrency: { type: "string" }, trap: { type: "string" }, armed: { type: "boolean" }, recording: { type: "boolean" } },
  (v) => {
    const target = typeof v.target === "string" ? v.target : "embedded";
    try {
      targetPlugin(target);
    } catch (err) {
      throw new UsageError(`--target: ${(err as Error).message}`);
    }
    const trap = typeof v.trap === "string" ? v.trap.split(",").map((c) => c.trim()).filter((c) => c !== "") : [];
    const bad = trap.filter((c) => !(SHIM_CALLS as readonly string[]).includes(c));
    if (bad.length > 0) throw new UsageError(`--trap: unknown call ${bad.join(", ")} (${SHIM_CALLS.join(", ")})`);
    if (trap.length > 0 && targetPlugin(target).faultDefaults?.syscalls !== true) throw new UsageError(`--trap: the ${target} target does not run under the syscall mechanism`);
    if (v.armed === true && trap.length === 0) throw new UsageError("--armed needs --trap");
    if (v.recording === true && recfsUnavailable() !== null) throw new UsageError(`--recording: ${recfsUnavailable() ?? ""}`);
    return {
      recording: v.recording === true, target, total: parseCount(typeof v.messages === "string" ? v.messages : "2000", "--messages"), concurrency: parseCount(typeof v.concurrency === "string" ? v.concurrency : "5", "--concurrency"), trap: trap as ShimCall[], armed: v.armed === true };
  },
);

let rec: RecordingFs | null = null;
const recRoot = recording ? await mkdtemp(join(tmpdir(), "smtpchaos-recfs-")) : null;
// an instance directory of our own: the target must not remove it while the recording is mounted on it
const recDir = recording ? await mkdtemp(join(tmpdir(), "smtpchaos-bench-")) : null;
if (recDir !== null) await chmod(recDir, 0o755);
const beforeLaunch = async (dir: string, target: { durableDirs?(): readonly string[] }): Promise<void> => {
  if (rec !== null || recRoot === null) return;
  rec = await RecordingFs.mount(recRoot, durableBinds(dir, target.durableDirs?.() ?? []));
};
const t = await startNamedTarget(targetName, { ...(trap.length > 0 ? { syscalls: trap } : {}), ...(recDir !== null ? { beforeLaunch, dir: recDir } : {}) }).catch((err: unknown) => fail("accept-rate", `cannot start target "${targetName}": ${(err as Error).message}`));
if (armed) {
  const d = describesFaults(t.target) ? t.target.describeFaults().syscalls : null;
  const ctl = d?.control() ?? null;
  if (d === null || ctl === null) fail("accept-rate", "--armed: the target has no syscall mechanism running");
  else
    ctl.setRules(
      1,
      d.roles.flatMap((role) => trap.map((call) => ({ point: `sys.${role}.${call}`, role, call, schedule: { kind: "probability" as const, p: 0 }, actions: [{ action: "error" as const, weight: 1 }], errno: 5, latency: null, limit: null }))).slice(0, 64),
    );
}
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
  console.log(`${targetName}: ${accepted} accepted, ${failed} failed in ${secs.toFixed(2)} s = ${(accepted / secs).toFixed(0)} msg/s (concurrency ${concurrency}, 1 KB, one message per connection${trap.length > 0 ? `, ${trap.join(",")} trapped${armed ? ", armed, never firing" : ", idle"}` : ""}${recording ? `, durable directories recorded (${(await (rec as RecordingFs | null)?.ops())?.length ?? 0} operations)` : ""})`);
} finally {
  await t.stop();
  await (rec as RecordingFs | null)?.unmount();
  for (const d of [recRoot, recDir]) if (d !== null) await rm(d, { recursive: true, force: true });
}
