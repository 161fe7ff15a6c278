// What every real-MTA target shares: a private working directory, the daemon as our direct
// child (own process group, so its shutdown cannot signal us), logs, crash detection, a
// banner probe, Maildir reading and the process list. Subclasses say how to configure and run it.
import { TargetStartError } from "../errors.js";
import { mkdtemp, chmod } from "node:fs/promises";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeCrash } from "../target.js";
import type { CrashInfo, DeliveredIds, DeliveredMessage, Endpoint, RoleProcess, Target, TargetHookOptions, TargetStatus } from "../target.js";
import { Supervisor } from "./supervisor.js";
import { descendants, exePath, hasListener, holdsListener } from "./procfs.js";
import { freePort } from "./free-port.js";
import { ipv6LoopbackAvailable, LOOPBACK4, LOOPBACK6 } from "./ipv6.js";
import { maildirDelivered, maildirIds } from "../maildir/read.js";
import { bannerStatus, waitForBanner } from "./banner.js";
import { OrphanGuard } from "./orphan-guard.js";
import { removeTree } from "./remove-tree.js";

const run = promisify(execFile);

/** How long the listeners a target declares besides the one that greeted may take to appear. */
const LISTENERS_GRACE_MS = 5000;

/** How long a control command (queue size, flush, listing) may take before it counts as hung. */
export const CONTROL_TIMEOUT_MS = 30_000;

/** A control command that did not answer within CONTROL_TIMEOUT_MS: the MTA is wedged, not down. */
export class ControlHangError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlHangError";
  }
}

export interface DaemonTargetOptions extends TargetHookOptions {
  /** working directory; a fresh one under /tmp (removed on stop) when absent */
  dir?: string;
  /** SMTP port on 127.0.0.1 (and on ::1); a free one when absent */
  port?: number;
  /** false: listen on 127.0.0.1 only; by default also on ::1 (same port) when the machine has IPv6 loopback */
  ipv6?: boolean;
  keep?: boolean;
  startTimeoutMs?: number;
  /** run the daemon under strace, recording its network system calls to this file (isolation tests) */
  straceNetworkTo?: string;
}

export interface DaemonCommand {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export abstract class DaemonTarget implements Target {
  abstract readonly name: string;
  /** role name of the process we started (the parent of all others) */
  protected abstract readonly masterRole: string;
  readonly domain: string = "test.example";
  readonly mailboxes: readonly string[] = ["user@test.example", "postmaster@test.example"];
  /** the domains delivered locally: the test domain, and localhost as a default configuration has it */
  protected get localDomains(): string[] {
    return [this.domain, "localhost"];
  }
  /** every local address: each mailbox's local part in each local domain */
  protected get localAddresses(): string[] {
    const parts = [...new Set(this.mailboxes.map((m) => m.slice(0, m.lastIndexOf("@"))))];
    return this.localDomains.flatMap((d) => parts.map((p) => `${p}@${d}`));
  }
  protected dir: string | null;
  protected port: number | null;
  /** whether the daemon also listens on ::1 (set by start(), before prepare()) */
  protected ipv6 = false;
  private supervisor: Supervisor | null = null;
  private guard: OrphanGuard | null = null;
  private ownsDir: boolean;

  constructor(protected readonly opts: DaemonTargetOptions = {}) {
    this.dir = opts.dir ?? null;
    this.port = opts.port ?? null;
    this.ownsDir = opts.dir === undefined && opts.keep !== true;
  }

  /** Throws a clear error when the MTA is not installed (names the setup command). */
  protected abstract checkInstalled(): void;

  unavailable(): string | null {
    try {
      this.checkInstalled();
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }
  /** Writes the configuration into the working directory (called before every start). */
  protected abstract prepare(dir: string, port: number): Promise<void>;
  protected abstract command(dir: string): DaemonCommand;

  /** Words run before the command, which exec it in place (none by default). */
  protected launchPrefix(_dir: string): string[] {
    return [];
  }
  protected abstract fatalPatterns(): RegExp[];
  /** Just before the MTA is spawned, its supervisor in place (a target file follows its logs from here). */
  protected async beforeSpawn(_dir: string): Promise<void> {}
  /** Listeners the MTA was told to open but does not hold (checked once it greets); empty when all are there. */
  protected missingListeners(_pids: readonly number[]): string[] {
    return [];
  }
  /** More to say when a start failed (the tails of the MTA's own log files). */
  protected startFailureDetails(): string {
    return "";
  }
  /** The final stop, once the MTA is down and before its directory goes: what the set-up started besides it. */
  protected async releaseSetUp(): Promise<void> {}
  /** Maildir directories the daemon delivers into. */
  protected abstract maildirs(dir: string): string[];
  /** Role name of a descendant process, or null to leave it out. */
  protected abstract roleOf(cmdline: string): string | null;
  abstract flushQueue(): Promise<void>;
  abstract queueSize(): Promise<number>;

  get endpoint(): Endpoint {
    if (this.port === null || !this.running) throw new Error(`${this.name} target is not started`);
    return { host: LOOPBACK4, port: this.port, ...(this.ipv6 ? { host6: LOOPBACK6 } : {}) };
  }

  get workDir(): string {
    if (this.dir === null) throw new Error(`${this.name} target is not started`);
    return this.dir;
  }

  get pid(): number | null {
    return this.supervisor?.pid ?? null;
  }

  protected get running(): boolean {
    return this.supervisor?.running === true;
  }

  async start(): Promise<void> {
    this.checkInstalled();
    if (this.dir === null) {
      this.dir = await mkdtemp(join(tmpdir(), `smtpchaos-${this.name}-`));
      // Daemon users (delivery, queue) must be able to traverse it.
      await chmod(this.dir, 0o755);
    }
    // A port we pick now can still be taken between our check and the daemon's bind: pick
    // another. A restart keeps its port (clients know it); stop() waited for it to be released.
    const ownPort = this.port === null;
    this.ipv6 = this.opts.ipv6 !== false && (await ipv6LoopbackAvailable());
    for (let attempt = 1; ; attempt++) {
      this.port ??= await freePort();
      try {
        await this.launch(this.dir, this.port);
        return;
      } catch (err) {
        // a listener the MTA itself still holds (it logged a crash line but runs) is not a stranger's
        const pid = this.running ? this.pid : null;
        const own = pid !== null && holdsListener(processTree(pid), this.port);
        const taken = !own && hasListener(this.port);
        const tail = this.supervisor?.logs.tail(15).join("\n") ?? "";
        const why = taken ? ` (port ${this.port} is held by another program)` : "";
        if (ownPort && attempt < 3 && (taken || /address already in use/i.test(tail))) {
          await this.supervisor?.stop();
          this.port = null;
          continue;
        }
        // how the MTA itself ended, if it did: its exit status, its signal, or the fatal line it logged
        const crash = this.crash();
        const ended = crash === null ? (this.running ? "" : " (it is not running)") : ` (${describeCrash(crash)})`;
        const details = this.startFailureDetails();
        await this.stop();
        throw new TargetStartError(`${this.name} did not start: ${(err as Error).message}${ended}${why}${tail !== "" ? `\nlog tail:\n${tail}` : ""}${details}`);
      }
    }
  }

  private async launch(dir: string, port: number): Promise<void> {
    await this.prepare(dir, port);
    await this.opts.beforeLaunch?.(dir, this);
    const own = this.command(dir);
    // a launcher that execs the command in place (the syscall mechanism): the PID stays the daemon's
    const prefix = this.launchPrefix(dir);
    const base = prefix.length === 0 ? own : { ...own, command: prefix[0] as string, args: [...prefix.slice(1), own.command, ...own.args] };
    const trace = this.opts.straceNetworkTo;
    const cmd = trace === undefined ? base : { ...base, command: "strace", args: ["-f", "-qq", "-e", "trace=network", "-o", trace, base.command, ...base.args] };
    const sup = (this.supervisor ??= new Supervisor({
      command: cmd.command,
      args: cmd.args,
      label: this.name,
      fatalPatterns: this.fatalPatterns(),
      spawn: { detached: true, env: cmd.env ?? process.env, cwd: dir },
    }));
    await this.beforeSpawn(dir);
    sup.start(cmd);
    // recorded until stop(): an exit of this process kills it, a SIGKILL of it leaves it to the next target start or clean
    if (sup.pid !== null) (this.guard ??= new OrphanGuard(this.name, true)).started(sup.pid, dir, this.ownsDir);
    await waitForBanner("127.0.0.1", port, this.opts.startTimeoutMs ?? 20_000, {
      // a crash pattern seen during start (a worker dying on a bad config) fails the start at once
      alive: () => sup.running && sup.crash() === null,
      // both listeners: a stranger on ::1 at our port would get the storm's IPv6 sessions
      owned: () => {
        if (sup.pid === null) return false;
        const pids = processTree(sup.pid);
        return holdsListener(pids, port, 4) && (!this.ipv6 || !hasListener(port, [6]) || holdsListener(pids, port, 6));
      },
    });
    // an MTA may open its listeners one by one (Haraka's cluster workers): give the others a moment
    const listenBy = Date.now() + LISTENERS_GRACE_MS;
    for (;;) {
      const missing = this.missingListeners(sup.pid === null ? [] : processTree(sup.pid));
      if (missing.length === 0) break;
      if (Date.now() > listenBy || !sup.running) throw new Error(`it greets on 127.0.0.1:${port} but does not listen on ${missing.join(", ")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // an MTA that listens on 127.0.0.1 only still runs: it simply has no IPv6 endpoint, and IPv6 sessions fall back to IPv4
    if (this.ipv6 && !hasListener(port, [6])) this.ipv6 = false;
  }

  expectDeath(pid: number): void {
    this.supervisor?.expectDeath(pid);
  }

  keepFiles(): string | null {
    this.ownsDir = false;
    this.guard?.keep();
    return this.dir;
  }

  async stop(): Promise<void> {
    await this.stopTracedDaemon();
    await this.supervisor?.stop();
    await this.afterStop();
    await this.releaseSetUp();
    if (this.dir !== null) await this.opts.onStopped?.(this.dir);
    if (this.ownsDir && this.dir !== null && existsSync(this.dir)) {
      // A delivery child finishing its write after the stop can refill a Maildir mid-removal (ENOTEMPTY): rm retries.
      await removeTree(this.dir);
      this.dir = null;
      this.port = this.opts.port ?? null;
    }
    this.guard?.stopped();
  }

  async powerCut(): Promise<void> {
    await this.supervisor?.stop(2000, "SIGKILL");
    await this.afterStop();
  }

  /**
   * Under strace the supervised PID is strace; a daemon that starts its own session (Postfix's
   * master) would survive a signal to strace's group, so it is stopped first, by its PID.
   */
  private async stopTracedDaemon(): Promise<void> {
    const pid = this.pid;
    if (this.opts.straceNetworkTo === undefined || pid === null || !this.running) return;
    const daemon = descendants(pid).find((p) => p.ppid === pid);
    if (daemon === undefined) return;
    try {
      process.kill(daemon.pid, "SIGTERM");
    } catch {
      return;
    }
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && descendants(pid).some((p) => p.pid === daemon.pid)) await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * Runs one of the MTA's control commands (queue flush, queue listing). When it fails because
   * the daemon is gone, the error says so, with the daemon's last log lines.
   */
  protected async control(command: string, args: string[]): Promise<string> {
    try {
      // a queue listing of a soak-sized queue is tens of MB (execFile stops at 1 MiB by default);
      // a wedged MTA can leave its control command waiting forever: that is bounded too
      return (await run(command, args, { maxBuffer: 256 * 1024 * 1024, timeout: CONTROL_TIMEOUT_MS, killSignal: "SIGKILL" })).stdout;
    } catch (err) {
      const e = err as Error & { stderr?: string; stdout?: string; code?: number | string; signal?: string | null; killed?: boolean };
      const crash = this.crash();
      const why = crash === null ? "" : `\n${this.name} is down (${describeCrash(crash)}); log tail:\n${crash.logTail.join("\n")}`;
      const status =
        e.killed === true && e.signal === "SIGKILL" ? `no answer within ${CONTROL_TIMEOUT_MS / 1000} s: the MTA's control interface hangs`
        : typeof e.code === "number" ? `exit status ${e.code}`
        : e.signal ? `killed by ${e.signal}`
        : e.code !== undefined ? String(e.code) : "failed";
      // what it said, both streams, the last lines of each (bounded)
      const tail = (t: string | undefined): string => (t ?? "").trim().split("\n").slice(-15).join("\n").slice(-4000);
      const said = [tail(e.stderr), tail(e.stdout)].filter((x) => x !== "").join("\n");
      const message = `${this.name}: ${[command, ...args].join(" ")} failed (${status})${said === "" ? "" : `:\n${said}`}${why}`;
      throw e.killed === true && e.signal === "SIGKILL" && crash === null ? new ControlHangError(message) : new Error(message);
    }
  }

  /** Cleanup beyond the daemon itself (e.g. processes that outlive their master). */
  protected async afterStop(): Promise<void> {}

  async restart(): Promise<void> {
    await this.stopTracedDaemon();
    await this.supervisor?.stop();
    await this.afterStop();
    await this.start();
  }

  async status(): Promise<TargetStatus> {
    let banner: TargetStatus["banner"] = null;
    if (this.running && this.port !== null) {
      banner = await bannerStatus(LOOPBACK4, this.port);
    }
    return { running: this.running, pid: this.pid, endpoint: this.running ? this.endpoint : null, banner, crash: this.crash() };
  }

  protected pushLog(line: string): void {
    this.supervisor?.ingest(line);
  }

  logs(): readonly string[] {
    return this.supervisor?.logs.all() ?? [];
  }

  onLog(listener: (line: string) => void): () => void {
    if (this.supervisor === null) throw new Error(`${this.name}: start the target before subscribing to its log`);
    return this.supervisor.logs.subscribe(listener);
  }

  crash(): CrashInfo | null {
    return this.supervisor?.crash() ?? null;
  }

  onCrash(listener: (crash: CrashInfo) => void): () => void {
    if (this.supervisor === null) throw new Error(`${this.name}: start the target before watching for crashes`);
    return this.supervisor.onCrash(listener);
  }

  async delivered(): Promise<DeliveredMessage[]> {
    return maildirDelivered(this.maildirs(this.workDir));
  }

  async deliveredIds(): Promise<DeliveredIds> {
    return maildirIds(this.maildirs(this.workDir));
  }

  async processes(): Promise<RoleProcess[]> {
    const pid = this.pid;
    if (pid === null || !this.running) return [];
    const out: RoleProcess[] = [];
    out.push({ role: this.masterRole, pid });
    // the syscall supervisor's rules (targets/shim/seccomp-supervisor.c): the live title, else the
    // executable; a fork that matches neither keeps its parent's role, but a fork of the master is not the master
    const roles = new Map<number, string>();
    for (const p of descendants(pid)) {
      const exe = exePath(p.pid);
      const role = this.roleOf(p.cmdline) ?? (exe === "" ? null : this.roleOf(exe)) ?? (p.ppid === pid ? null : (roles.get(p.ppid) ?? null));
      if (role === null) continue;
      roles.set(p.pid, role);
      out.push({ role, pid: p.pid });
    }
    return out;
  }
}

/** A process and its live descendants: the MTA's side of a listener check. */
function processTree(pid: number): number[] {
  return [pid, ...descendants(pid).map((p) => p.pid)];
}
