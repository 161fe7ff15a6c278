// Keeps one target running in the background for `smtpchaos target start NAME`:
// `node host.js NAME [STATE-FILE]` (the state file only labels the command line, so the CLI's
// identity check tells hosts of different state files apart). Prints one READY line, flushes the queue on SIGUSR1, stops the target
// (by its PID) on SIGTERM/SIGINT, and exits when the target crashes.
import { createTarget } from "./registry.js";
import { loadPluginsFromEnv } from "../common/plugins.js";
import { READY_PREFIX } from "./embedded/protocol.js";
import { FileTarget } from "./file/target.js";

async function main(): Promise<void> {
  const name = process.argv[2];
  if (name === undefined) throw new Error("usage: host.js TARGET [STATE-FILE] [--keep]");
  const keep = process.argv.includes("--keep");
  // a plug-in's target is known here only once its module is loaded again (the CLI passed it on)
  await loadPluginsFromEnv();
  const target = createTarget(name, name === "embedded" ? { mode: "in-process" } : keep ? { keep: true } : {});
  let stopping = false;
  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    target.stop().then(
      () => process.exit(code),
      (err: unknown) => {
        console.error(`stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop(0));
  process.once("SIGINT", () => stop(0));
  await target.start();
  target.onLog((line) => console.log(line));
  target.onCrash((c) => {
    console.log(`fatal: ${name} crashed (${c.signal ?? c.exitCode ?? c.line ?? "?"})`);
    stop(1);
  });
  process.on("SIGUSR1", () => void target.flushQueue().catch((err: unknown) => console.error(`flush failed: ${(err as Error).message}`)));
  const { host, port, host6 } = target.endpoint;
  // the working directory, so that the next start can remove it if this host is killed with -9
  const dir = "workDir" in target && typeof target.workDir === "string" ? target.workDir : null;
  // the MTA's own processes by role (the host's PID is the toolkit's), and a target file's helpers and sink
  const processes = (await target.processes()).map((p) => ({ role: p.role, pid: p.pid }));
  const helpers = target instanceof FileTarget ? target.helperProcesses().map((h) => ({ role: `helper ${h.name}`, pid: h.pid })) : [];
  const sink = target instanceof FileTarget ? target.sinkAddress() : null;
  console.log(READY_PREFIX + JSON.stringify({ host, port, tlsPort: target.endpoint.tlsPort ?? null, host6: host6 ?? null, pid: process.pid, mailboxes: target.mailboxes, dir, keep, processes: [...processes, ...helpers], sink }));
}

main().catch((err: unknown) => {
  console.error(`fatal: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
