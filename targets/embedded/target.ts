// The embedded MTA behind the Target interface, either in this process (fast, fault points
// reachable directly) or as a child process (crashes observable, survives as a daemon).
import type { TargetPlugin } from "../registry.js";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { probeBanner } from "../../smtp/probe.js";
import type { CrashInfo, DeliveredIds, DeliveredMessage, Endpoint, RoleProcess, Target, TargetHookOptions, TargetStatus } from "../target.js";
import { EmbeddedMta, sendersMaildir } from "./mta.js";
import type { EmbeddedMtaOptions } from "./mta.js";
import type { FaultPoints } from "./fault-points.js";
import { LogBuffer } from "../process/log-buffer.js";
import { Supervisor } from "../process/supervisor.js";
import { OrphanGuard } from "../process/orphan-guard.js";
import { removeTree } from "../process/remove-tree.js";
import { READY_PREFIX } from "./protocol.js";
import type { ReadyLine } from "./protocol.js";
import { maildirDelivered, maildirIds } from "../maildir/read.js";
import { fileIds } from "../message-head.js";
import { bannerStatus } from "../process/banner.js";

export interface EmbeddedTargetOptions extends Omit<EmbeddedMtaOptions, "dir" | "log">, TargetHookOptions {
  /** working directory; a fresh temporary one (removed on stop) when absent */
  dir?: string;
  mode?: "in-process" | "child";
  /** keep the working directory after stop */
  keep?: boolean;
}

const DAEMON = fileURLToPath(new URL("./daemon.js", import.meta.url));

function toEndpoint(r: { port: number; tlsPort: number | null; host6?: string | null }): Endpoint {
  return { host: "127.0.0.1", port: r.port, ...(r.tlsPort !== null ? { tlsPort: r.tlsPort } : {}), ...(typeof r.host6 === "string" ? { host6: r.host6 } : {}) };
}

export class EmbeddedTarget implements Target {
  readonly name = "embedded";
  readonly domain: string;
  readonly mailboxes: readonly string[];
  private dir: string | null;
  private ownsDir: boolean;
  private mta: EmbeddedMta | null = null;
  private supervisor: Supervisor | null = null;
  private guard: OrphanGuard | null = null;
  private ep: Endpoint | null = null;
  private readonly inProcessLogs = new LogBuffer();
  private readonly users: string[];
  /** a child can be cut off like a host losing power; the in-process MTA is this very process */
  readonly powerCut?: () => Promise<void>;

  constructor(private readonly opts: EmbeddedTargetOptions = {}) {
    this.domain = (opts.domain ?? "test.example").toLowerCase();
    this.users = (opts.users ?? ["user", "postmaster"]).map((u) => u.toLowerCase());
    this.mailboxes = this.users.map((u) => `${u}@${this.domain}`);
    this.dir = opts.dir ?? null;
    this.ownsDir = opts.dir === undefined && opts.keep !== true;
    if (this.mode === "child") this.powerCut = async () => void (await this.supervisor?.stop(2000, "SIGKILL"));
  }

  get mode(): "in-process" | "child" {
    return this.opts.mode ?? "in-process";
  }

  get endpoint(): Endpoint {
    if (this.ep === null) throw new Error("embedded target is not started");
    return this.ep;
  }

  get workDir(): string {
    if (this.dir === null) throw new Error("embedded target is not started");
    return this.dir;
  }

  private hooks: FaultPoints | null = null;

  /** In-process mode only: where fault injection plugs in (kept across restart()). */
  setFaults(faults: FaultPoints | null): void {
    if (this.mode !== "in-process") throw new Error("fault points are reachable only on an in-process embedded target");
    this.hooks = faults;
    this.mta?.setFaults(faults);
  }

  async start(): Promise<void> {
    this.dir ??= await mkdtemp(join(tmpdir(), "smtpchaos-embedded-"));
    // Implicit TLS listens on a second port unless turned off with tlsPort: null.
    const tlsPort = this.ep?.tlsPort ?? (this.opts.tlsPort === undefined ? 0 : this.opts.tlsPort);
    await this.opts.beforeLaunch?.(this.dir, this);
    const { beforeLaunch: _before, onStopped: _stopped, ...own } = this.opts;
    const mtaOpts: EmbeddedMtaOptions = { ...own, dir: this.dir, port: this.ep?.port ?? this.opts.port, tlsPort };
    if (this.mode === "in-process") {
      const mta = new EmbeddedMta({ ...mtaOpts, log: (l) => this.inProcessLogs.push(`${new Date().toISOString()} embedded: ${l}`) });
      await mta.start();
      this.mta = mta;
      if (this.hooks !== null) mta.setFaults(this.hooks);
      this.ep = toEndpoint(mta.endpoint);
    } else {
      this.ep = await this.startChild(mtaOpts);
    }
    await this.probe();
  }

  private async startChild(mtaOpts: EmbeddedMtaOptions): Promise<Endpoint> {
    const sup = (this.supervisor ??= new Supervisor({
      command: process.execPath,
      args: [DAEMON, JSON.stringify(mtaOpts)],
      label: "embedded MTA",
      fatalPatterns: [/^fatal: /],
    }));
    // this start's options: a restart keeps the ports the first start got
    sup.start({ command: process.execPath, args: [DAEMON, JSON.stringify(mtaOpts)] });
    // not a group of its own: the child alone is killed if this process dies without stopping it
    if (sup.pid !== null && this.dir !== null) (this.guard ??= new OrphanGuard(this.name, false)).started(sup.pid, this.dir, this.ownsDir);
    return new Promise<Endpoint>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`embedded MTA did not report ready within 10 s; log tail:\n${sup.logs.tail(10).join("\n")}`)), 10_000);
      const offLog = sup.logs.subscribe((line) => {
        if (!line.startsWith(READY_PREFIX)) return;
        done(null, toEndpoint(JSON.parse(line.slice(READY_PREFIX.length)) as ReadyLine));
      });
      const offCrash = sup.onCrash((c) => done(new Error(`embedded MTA died while starting (${c.signal ?? `exit ${c.exitCode}`}): ${c.logTail.slice(-5).join(" | ")}`)));
      function done(err: Error | null, ep?: Endpoint): void {
        clearTimeout(timer);
        offLog();
        offCrash();
        if (err !== null) reject(err);
        else resolve(ep as Endpoint);
      }
    });
  }

  /** A banner on every address it listens on. */
  private async probe(): Promise<void> {
    const { host, host6, port } = this.endpoint;
    for (const h of host6 === undefined ? [host] : [host, host6]) await probeBanner(h, port, { timeoutMs: 5000 });
  }

  keepFiles(): string | null {
    this.ownsDir = false;
    this.guard?.keep();
    return this.dir;
  }

  durableDirs(): readonly string[] {
    return ["spool", "mail"];
  }

  async stop(): Promise<void> {
    await this.mta?.stop();
    this.mta = null;
    await this.supervisor?.stop();
    if (this.dir !== null) await this.opts.onStopped?.(this.dir);
    if (this.ownsDir && this.dir !== null) {
      // A delivery child finishing its write after the stop can refill a Maildir mid-removal (ENOTEMPTY): rm retries.
      await removeTree(this.dir);
      this.dir = null;
    }
    this.guard?.stopped();
  }

  async restart(): Promise<void> {
    // Keep the directory (spool and mailboxes survive) and the ports.
    await this.mta?.stop();
    this.mta = null;
    await this.supervisor?.stop();
    await this.start();
  }

  async status(): Promise<TargetStatus> {
    const running = this.mode === "in-process" ? this.mta !== null : this.supervisor?.running === true;
    let banner: TargetStatus["banner"] = null;
    if (running && this.ep !== null) {
      banner = await bannerStatus(this.ep.host, this.ep.port);
    }
    return { running, pid: this.mode === "in-process" ? process.pid : (this.supervisor?.pid ?? null), endpoint: this.ep, banner, crash: this.crash() };
  }

  logs(): readonly string[] {
    return this.supervisor?.logs.all() ?? this.inProcessLogs.all();
  }

  onLog(listener: (line: string) => void): () => void {
    return (this.supervisor?.logs ?? this.inProcessLogs).subscribe(listener);
  }

  crash(): CrashInfo | null {
    return this.supervisor?.crash() ?? null;
  }

  onCrash(listener: (crash: CrashInfo) => void): () => void {
    if (this.mode === "in-process") return () => {};
    this.supervisor ??= new Supervisor({ command: process.execPath, args: [], label: "embedded MTA" });
    return this.supervisor.onCrash(listener);
  }

  async flushQueue(): Promise<void> {
    if (this.mta !== null) this.mta.flush();
    else if (this.supervisor?.pid !== null && this.supervisor?.pid !== undefined) process.kill(this.supervisor.pid, "SIGUSR1");
  }

  async queueSize(): Promise<number> {
    try {
      return (await readdir(join(this.workDir, "spool"))).filter((n) => n.endsWith(".env")).length;
    } catch {
      return 0;
    }
  }

  /** the users' Maildirs, then the one the senders' domain (bounces) is delivered to */
  private get maildirs(): string[] {
    return [...this.users.map((u) => join(this.workDir, "mail", u, "Maildir")), ...(this.opts.senderDomain === null ? [] : [sendersMaildir(this.workDir)])];
  }

  async delivered(): Promise<DeliveredMessage[]> {
    return maildirDelivered(this.maildirs);
  }

  async deliveredIds(): Promise<DeliveredIds> {
    return maildirIds(this.maildirs);
  }

  /** The ids of the messages in the spool (a message is queued while its envelope file exists; a queued bounce gives its original's). */
  async queueIds(): Promise<string[]> {
    const spool = join(this.workDir, "spool");
    let names: string[];
    try {
      names = await readdir(spool);
    } catch {
      return [];
    }
    return fileIds(names.filter((n) => n.endsWith(".env")).map((n) => join(spool, `${n.slice(0, -4)}.msg`)));
  }

  async processes(): Promise<RoleProcess[]> {
    // In-process, the MTA's process is this one: nothing the monkey may pause or kill.
    const pid = this.mode === "in-process" ? undefined : this.supervisor?.pid;
    return pid === null || pid === undefined ? [] : [{ role: "smtpd", pid }];
  }
}

export const embeddedPlugin: TargetPlugin = {
  name: "embedded",
  summary: "the toolkit's own MTA (smtp-server), no root needed",
  create: (o) => new EmbeddedTarget(o as EmbeddedTargetOptions),
};
