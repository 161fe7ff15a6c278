// `smtpchaos target start|stop|status NAME`: a target that outlives the command, tracked by a
// state file (the host process's PID and identity, endpoint, working directory) so that stop
// ends exactly the process start started, and nothing else that later got its PID.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { openSync, readFileSync, closeSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { EXIT } from "../common/exit-codes.js";
import { parseCli } from "../common/args.js";
import { bannerStatus } from "./process/banner.js";
import { READY_PREFIX } from "./embedded/protocol.js";
import type { ReadyLine } from "./embedded/protocol.js";
import { targetNames, targetPlugin } from "./registry.js";
import { isTargetFileRef } from "./file/load.js";
import { isSameProcess, processIdentity } from "./process/procfs.js";
import type { ProcessIdentity } from "./process/procfs.js";
import { acquireLock, LockBusyError } from "./process/lock-file.js";
import { reapOrphans } from "./process/orphan-guard.js";
import { cleanStaleRecfsMounts } from "./process/recfs.js";
import type { LockFile } from "./process/lock-file.js";
import { reportUserError } from "../common/errors.js";
import { StateError, prepareStateDir, readState, removeInstanceDir, removeState, writeState } from "./instance-state.js";
import type { InstanceState } from "./instance-state.js";

const USAGE = `usage: smtpchaos target start|stop|status NAME [--state DIR] [--keep]
       smtpchaos target clean
       smtpchaos target check FILE|NAME [--start] [--keep] [--timeout D]

  start NAME    start the target in the background and print its endpoint, its processes
                by role (PIDs) and its instance directory
  status NAME   show whether it runs, its PIDs, endpoint and banner
  stop NAME     stop the process that 'start' started (by PID)
  clean         stop every MTA a toolkit killed with SIGKILL left running (by verified PID and
                process group) and remove its instance directory; 'start' does it first too
  check FILE    validate a target file; --start: start it once and report each role,
                log, delivery, listener and fault mechanism it reaches (see --help of check)

  --state DIR   where state files live (default $SMTPCHAOS_STATE or ./.smtpchaos)
  --keep        start: keep the instance directory (config, queue, logs, mailboxes) after
                stop; it is made in $TMPDIR/smtpchaos-NAME-XXXXXX and removed at stop otherwise

targets: ${targetNames().join(", ")} (the real MTAs need root and 'npm run setup:mtas')`;

const HOST = fileURLToPath(new URL("./host.js", import.meta.url));

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCli({ args: argv, allowPositionals: true, options: { state: { type: "string" }, keep: { type: "boolean" }, help: { type: "boolean", short: "h" } } });
  } catch (err) {
    console.error(`smtpchaos target: ${(err as Error).message}`);
    return EXIT.usage;
  }
  if (parsed.values.help === true) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const [action, name] = parsed.positionals;
  if (action === "clean" && name === undefined) return clean();
  if (action === undefined || name === undefined || !["start", "stop", "status"].includes(action)) {
    console.error(USAGE);
    return EXIT.usage;
  }
  let plugin;
  try {
    plugin = targetPlugin(name);
  } catch (err) {
    // an unknown name, or a target file with problems (every one of them, with its path)
    return reportUserError(err, "smtpchaos target");
  }
  // the host runs elsewhere: a target file is passed by absolute path; the state is named for the target
  const ref = isTargetFileRef(name) ? resolve(name) : name;
  const stateDir = resolve(parsed.values.state ?? process.env.SMTPCHAOS_STATE ?? ".smtpchaos");
  const stateFile = join(stateDir, `${plugin.name}.json`);
  try {
    if (action === "start") {
      for (const line of reapOrphans()) console.error(`smtpchaos target: left by a toolkit that was killed: ${line}`);
      return await start(plugin.name, stateDir, stateFile, ref, parsed.values.keep === true);
    }
    if (action === "status") return await status(stateFile);
    return await stop(stateFile);
  } catch (err) {
    return reportUserError(err, `smtpchaos target ${action}`);
  }
}

/** `target clean`: the orphans of toolkits that were killed (SIGKILL), and stale recording mounts. */
function clean(): number {
  // the mounts first: a directory with a recording file system still in it is not removed
  const unmounted = cleanStaleRecfsMounts().map((m) => `unmounted a stale recording file system at ${m}`);
  const done = [...unmounted, ...reapOrphans()];
  console.log(done.length === 0 ? "nothing to clean: no MTA or mount left behind by a toolkit that is gone" : done.join("\n"));
  return EXIT.ok;
}

/** The lock that keeps two commands from starting or stopping the target of one state file at once. */
function lockState(stateFile: string): LockFile {
  const path = `${stateFile}.lock`;
  try {
    return acquireLock(path);
  } catch (err) {
    if (err instanceof LockBusyError) {
      const who = err.owner > 0 ? `pid ${err.owner}` : "another command";
      throw new StateError(`${who} is starting or stopping this target right now (lock ${path}); try again when it is done`);
    }
    throw new StateError(`cannot lock ${path}: ${(err as Error).message}`);
  }
}

/** Whether the state's PID is still the process that start recorded. Without an identity: never. */
function ours(s: InstanceState): s is InstanceState & { identity: ProcessIdentity } {
  return s.identity !== undefined && isSameProcess(s.identity);
}

/** Why a state's PID is not ours (for the user). */
function whyStale(s: InstanceState): string {
  const now = processIdentity(s.pid);
  if (s.identity === undefined) return `pid ${s.pid} was recorded without its start time, so it cannot be told from another process with that PID`;
  if (now === null) return `pid ${s.pid} is gone`;
  return `pid ${s.pid} is now another process (${now.cmdline.slice(0, 80)})`;
}

/** Forgets a dead (or never verifiable) instance: its state file and its directory; nothing is signalled. */
function forgetStale(s: InstanceState, stateFile: string): string {
  const dir = removeInstanceDir(s);
  removeState(stateFile);
  return `${s.name} is not running: ${whyStale(s)}; removed the stale state file${dir !== null ? ` and ${dir}` : ""}`;
}

/** A signal to a process only while it is still the one recorded (PIDs are reused). */
function signalIfOurs(id: ProcessIdentity, sig: NodeJS.Signals): boolean {
  if (!isSameProcess(id)) return false;
  try {
    process.kill(id.pid, sig);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
}

async function waitGone(id: ProcessIdentity, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isSameProcess(id)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** `name` labels the instance (state, log, messages); `ref` is what the host creates (a name or a target file path). */
async function start(name: string, stateDir: string, stateFile: string, ref: string, keep: boolean): Promise<number> {
  // Checked before anything is spawned: a state we could not write would orphan the host.
  prepareStateDir(stateDir, stateFile);
  const lock = lockState(stateFile);
  try {
    const existing = readState(stateFile);
    if (existing !== null) {
      if (ours(existing)) {
        const ep = existing.endpoint;
        throw new StateError(`${name} is already running (pid ${existing.pid}) on ${ep.host}:${ep.port}; state ${stateFile}`);
      }
      console.error(`smtpchaos target: ${forgetStale(existing, stateFile)}`);
    }
    return await launch(name, stateDir, stateFile, ref, keep);
  } finally {
    lock.release();
  }
}

type HostReady = ReadyLine & { mailboxes: string[]; host6: string | null; dir?: string | null; keep?: boolean; processes?: Array<{ role: string; pid: number }>; sink?: { host: string; port: number } | null };

/** "master 1234, smtpd 1240 1241": PIDs grouped by role, in the order first seen. */
function byRole(ps: ReadonlyArray<{ role: string; pid: number }>): string {
  const roles = new Map<string, number[]>();
  for (const p of ps) roles.set(p.role, [...(roles.get(p.role) ?? []), p.pid]);
  return [...roles].map(([r, pids]) => `${r} ${pids.join(" ")}`).join(", ");
}

async function launch(name: string, stateDir: string, stateFile: string, ref: string, keep: boolean): Promise<number> {
  const log = join(stateDir, `${name}.log`);
  let fd: number;
  try {
    fd = openSync(log, "w", 0o600);
  } catch (err) {
    throw new StateError(`cannot write log ${log}: ${(err as Error).message}`);
  }
  // The state file on the command line makes it part of the identity the state records.
  const child = spawn(process.execPath, [HOST, ref, stateFile, ...(keep ? ["--keep"] : [])], { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  let spawnError: Error | null = null;
  child.once("error", (err) => (spawnError = err));
  child.unref();
  let ready: HostReady | null = null;
  try {
    ready = await waitReady(child, log, () => spawnError);
    const identity = child.pid === undefined ? null : processIdentity(child.pid);
    if (identity === null) throw new StateError(`${name} exited right after reporting ready; log ${log}`);
    const r = ready;
    writeState(stateFile, {
      name,
      pid: identity.pid,
      identity,
      endpoint: { host: "127.0.0.1", port: r.port, ...(r.tlsPort !== null ? { tlsPort: r.tlsPort } : {}), ...(r.host6 !== null ? { host6: r.host6 } : {}) },
      log,
      ...(typeof r.dir === "string" ? { instanceDir: r.dir } : {}),
      ...(r.keep === true ? { keepDir: true } : {}),
      ...(r.processes !== undefined ? { processes: r.processes } : {}),
      startedAt: new Date().toISOString(),
    });
    const tls = r.tlsPort !== null ? `, implicit TLS on port ${r.tlsPort}` : "";
    console.log(`${name} started: listening on 127.0.0.1:${r.port}${r.host6 !== null ? ` and [${r.host6}]:${r.port}` : ""}${tls}, mailboxes ${r.mailboxes.join(" ")}`);
    console.log(`  toolkit host: pid ${identity.pid}${r.processes !== undefined && r.processes.length > 0 ? `; the MTA: ${byRole(r.processes)}` : ""}`);
    if (r.sink !== undefined && r.sink !== null) console.log(`  sink (its next hop, the deliveries): ${r.sink.host}:${r.sink.port}`);
    if (typeof r.dir === "string") console.log(`  instance directory: ${r.dir}${r.keep === true ? " (kept after stop: --keep)" : " (removed at stop)"}`);
    console.log(`  log: ${log}`);
    return EXIT.ok;
  } catch (err) {
    await abandon(child, name, ready?.dir ?? undefined);
    throw err;
  }
}

/** The host's READY line, or a StateError once it died or did not report in time. */
async function waitReady(child: ChildProcess, log: string, spawnError: () => Error | null): Promise<HostReady> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const line = readFileSync(log, "utf8")
      .split("\n")
      .find((l) => l.startsWith(READY_PREFIX));
    if (line !== undefined) return JSON.parse(line.slice(READY_PREFIX.length)) as HostReady;
    const err = spawnError();
    if (err !== null) throw new StateError(`cannot run ${process.execPath}: ${err.message}`);
    const exited = child.exitCode !== null || child.signalCode !== null;
    if (exited || Date.now() > deadline) {
      const tail = readFileSync(log, "utf8").trim().split("\n").slice(-10).join("\n");
      throw new StateError(`${child.spawnargs[2] ?? "target"} ${exited ? "exited" : "did not become ready in 30 s"}; log ${log}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A start that failed after spawning: the host is still our (unreaped) child, so its PID is
 * certainly its own. SIGTERM lets it stop the target and remove its directory; SIGKILL if not.
 */
async function abandon(child: ChildProcess, name: string, dir: string | undefined): Promise<void> {
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  if (running()) {
    child.kill("SIGTERM");
    const deadline = Date.now() + 10_000;
    while (running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (running()) child.kill("SIGKILL");
  }
  if (dir !== undefined) removeInstanceDir({ name, pid: 0, endpoint: { host: "", port: 0 }, log: "", instanceDir: dir, startedAt: "" });
}

async function status(stateFile: string): Promise<number> {
  const s = readState(stateFile);
  if (s === null) {
    console.log("not running (no state file)");
    return EXIT.failures;
  }
  if (!ours(s)) {
    let lock: LockFile | null = null;
    try {
      lock = lockState(stateFile);
    } catch {
      // a start or stop is under way: it decides; just report
      console.log(`${s.name} is not running: ${whyStale(s)} (log ${s.log})`);
      return EXIT.failures;
    }
    try {
      const fresh = readState(stateFile);
      console.log(fresh === null ? `${s.name} is not running (no state file)` : ours(fresh) ? `${s.name} was just restarted; run status again` : `${forgetStale(fresh, stateFile)} (log ${fresh.log})`);
    } finally {
      lock.release();
    }
    return EXIT.failures;
  }
  const probe = await bannerStatus(s.endpoint.host, s.endpoint.port);
  const banner = probe.ok ? probe.line : `no banner: ${probe.reason}`;
  const tls = s.endpoint.tlsPort !== undefined ? `, implicit TLS on port ${s.endpoint.tlsPort}` : "";
  // the PIDs recorded at start that are still alive (an MTA's workers come and go)
  const alive = (s.processes ?? []).filter((p) => processIdentity(p.pid) !== null);
  console.log(
    `${s.name} running: toolkit host pid ${s.pid}, ${s.endpoint.host}:${s.endpoint.port}${s.endpoint.host6 !== undefined ? ` and [${s.endpoint.host6}]:${s.endpoint.port}` : ""}${tls}, since ${s.startedAt}` +
      `${alive.length > 0 ? `\nthe MTA (PIDs seen at start, still alive): ${byRole(alive)}` : ""}${s.instanceDir !== undefined ? `\ninstance directory: ${s.instanceDir}` : ""}\nbanner: ${banner}`,
  );
  return banner.startsWith("220") ? EXIT.ok : EXIT.failures;
}

async function stop(stateFile: string): Promise<number> {
  if (readState(stateFile) === null) {
    console.log("not running (no state file)");
    return EXIT.ok;
  }
  const lock = lockState(stateFile);
  try {
    const s = readState(stateFile);
    if (s === null) {
      console.log("not running (no state file)");
      return EXIT.ok;
    }
    if (!ours(s)) {
      console.log(forgetStale(s, stateFile));
      return EXIT.ok;
    }
    signalIfOurs(s.identity, "SIGTERM");
    if (!(await waitGone(s.identity, 15_000))) {
      signalIfOurs(s.identity, "SIGKILL");
      if (!(await waitGone(s.identity, 5_000))) throw new StateError(`${s.name} (pid ${s.pid}) survived SIGKILL; state file ${stateFile} kept`);
    }
    // the host removes its directory when it stops cleanly; not after SIGKILL
    const dir = removeInstanceDir(s);
    removeState(stateFile);
    console.log(`${s.name} stopped (pid ${s.pid})${dir !== null ? `; ${dir}` : ""}`);
    return EXIT.ok;
  } finally {
    lock.release();
  }
}
