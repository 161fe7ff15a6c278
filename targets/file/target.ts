// A target made from a target file: the daemon the file describes, run like the shipped real
// MTAs (our direct child, a private working directory, loopback ports, banner from its own
// socket, crash patterns, roles by command line), with its config rendered from the file's
// templates before every start.
import { TargetUnavailableError } from "../errors.js";
import { existsSync, readFileSync, statSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import type { DaemonCommand } from "../process/daemon-target.js";
import { MtaTarget } from "../process/mta-target.js";
import type { MtaTargetOptions } from "../process/mta-target.js";
import { selfSignedCert } from "../process/tls-cert.js";
import { freePort } from "../process/free-port.js";
import { followFile } from "../process/follow-file.js";
import { checkRelay } from "../process/relay.js";
import { LOOPBACK4, LOOPBACK6 } from "../process/ipv6.js";
import { assertFiuInstalled, fiuPreloadEnv } from "../process/libfiu.js";
import { posixPattern, type ShimRole } from "../process/syscall-shim.js";
import { listenSyslog, type SyslogListener } from "../process/syslog-socket.js";
import { devLogCommands, shQuote } from "../process/dev-log.js";
import { SENDER_DOMAIN } from "../target.js";
import type { Endpoint } from "../target.js";
import type { FaultDescription } from "../fault-hooks.js";
import { visible } from "../../common/visible.js";
import { parseQueueIds, render, type TargetFileSpec } from "./spec.js";
import type { SettleResult } from "../../common/settle.js";
import { RecordingSink } from "../sink/recording-sink.js";
import { SetUpHelpers } from "../process/set-up-helpers.js";
import { maildirIds } from "../maildir/read.js";
import { settleMaildirs } from "../maildir/settle.js";
import { hasListener, holdsListener } from "../process/procfs.js";
import type { DeliveredIds } from "../target.js";

/** A relay goes through the file's {{#relay}} sections; lookups need `lookups: true` in it. */
export interface FileTargetOptions extends MtaTargetOptions {
  /**
   * With `delivery: sink`: a next hop someone else runs and counts (the monkey's flaky next hop)
   * instead of the target's own sink; what arrives there is then not among the target's deliveries.
   */
  sink?: RecordingSink;
}

/** How many lines of each declared log a failed start shows. */
const FAILED_START_LOG_LINES = 15;

export class FileTarget extends MtaTarget<FileTargetOptions> {
  readonly name: string;
  override readonly domain: string;
  override readonly mailboxes: readonly string[];
  protected readonly masterRole: string;
  /** false when the file gives no queue-size command: the queue cannot be observed */
  readonly queueObservable: boolean;
  private tlsPort: number | null = null;
  private lookupsAt: { host: string; port: number } | null = null;
  private tails: Array<{ stop: () => void }> = [];
  /** the socket behind the MTA's /dev/log (syslog: true), open from prepare() to afterStop() */
  private syslogSocket: SyslogListener | null = null;
  private readonly roles: Array<[string, RegExp]>;
  /** the next hop of `delivery: sink`: started at the first start, kept across restarts */
  private sink: RecordingSink | null = null;
  private ownSink = false;
  /** {{ports.NAME}}: picked at the first start, kept across restarts */
  private readonly extraPorts = new Map<string, number>();
  private readonly helpers = new SetUpHelpers((line) => this.pushLog(line));

  constructor(
    private readonly spec: TargetFileSpec,
    o: FileTargetOptions = {},
  ) {
    // a file that keeps the shim out wins over a caller asking for it
    super({ ...(spec.syscalls ? o : { ...o, syscalls: [] }), ...(spec.ipv6 ? {} : { ipv6: false }) });
    this.name = spec.name;
    this.domain = spec.domain;
    this.mailboxes = spec.mailboxes.map((u) => `${u}@${spec.domain}`);
    this.masterRole = spec.master;
    this.queueObservable = spec.queueSize !== null;
    this.roles = Object.entries(spec.roles).map(([role, re]) => [role, new RegExp(re)]);
    if (o.relay !== undefined) {
      checkRelay(o.relay, this);
      if (!Object.values(spec.files).some((t) => t.includes("{{#relay}}"))) throw new Error(`${spec.path}: this target cannot relay (no {{#relay}} section in its files)`);
    }
    if (o.lookups !== undefined && !spec.lookups) throw new Error(`${spec.path}: this target's lookups cannot be routed (lookups: true and {{lookups.host}}/{{lookups.port}} in its files)`);
  }

  protected override get localDomains(): string[] {
    return [this.domain, ...this.spec.localDomains];
  }

  override get endpoint(): Endpoint {
    const ep = super.endpoint;
    return this.tlsPort === null ? ep : { ...ep, tlsPort: this.tlsPort };
  }

  protected get faultRoles(): readonly string[] {
    return [this.spec.master, ...Object.keys(this.spec.roles)];
  }

  protected get stallRole(): string | null {
    return this.spec.stallRole;
  }

  /** the file's roles, by the same patterns (as POSIX ones) */
  protected shimRoles(): ShimRole[] {
    return Object.entries(this.spec.roles).map(([name, re]) => ({ name, pattern: posixPattern(re) }));
  }

  protected libfiu(): FaultDescription["libfiu"] {
    if (this.fiuRoles.length === 0) return null;
    return { kind: "fifo", roles: this.fiuRoles, prefix: () => join(this.workDir, "fiu", "ctl"), stackScope: {}, points: this.spec.libfiuPoints, logged: Object.entries(this.spec.libfiuLog).map(([point, re]) => ({ point, pattern: new RegExp(re) })) };
  }

  /** The roles started under libfiu: asked for (fiu option) and allowed by the file. */
  private get fiuRoles(): readonly string[] {
    return (this.o.fiu ?? []).filter((r) => this.spec.libfiu.includes(r));
  }

  protected checkInstalled(): void {
    const refused = (this.o.fiu ?? []).filter((r) => !this.spec.libfiu.includes(r));
    if (refused.length > 0) throw new Error(`${this.name}: libfiu cannot go into ${refused.join(", ")} (its target file allows: ${this.spec.libfiu.join(", ") || "none"})`);
    if (this.fiuRoles.length > 0) assertFiuInstalled();
    if (this.spec.root && process.getuid?.() !== 0) throw new TargetUnavailableError(`the ${this.name} target needs root (${this.spec.path})`);
    const missing = this.spec.requires.filter((p) => !findProgram(p));
    if (missing.length > 0) throw new TargetUnavailableError(`${this.name} is not installed: ${missing.join(", ")} not found (${this.spec.path})`);
  }

  private values(dir: string, port: number): { values: Record<string, string>; on: Set<string> } {
    const r = this.o.relay;
    const values: Record<string, string> = {
      dir,
      here: dirname(this.spec.path),
      port: String(port),
      port6: String(port),
      tlsPort: this.tlsPort === null ? "" : String(this.tlsPort),
      host: LOOPBACK4,
      host6: this.ipv6 ? LOOPBACK6 : "",
      hostname: this.spec.hostname,
      domain: this.domain,
      domains: this.localDomains.join(" "),
      mailboxes: this.spec.mailboxes.join(" "),
      "tls.cert": join(dir, "tls-cert.pem"),
      "tls.key": join(dir, "tls-key.pem"),
      "relay.domain": r?.domain ?? "",
      "relay.host": r?.host ?? "",
      "relay.port": r === undefined ? "" : String(r.port),
      "lookups.host": this.lookupsAt?.host ?? "",
      "lookups.port": this.lookupsAt === null ? "" : String(this.lookupsAt.port),
      pid: this.pid === null ? "" : String(this.pid),
      senderDomain: SENDER_DOMAIN,
      "sink.host": this.sink?.address()?.host ?? "",
      "sink.port": String(this.sink?.address()?.port ?? ""),
    };
    for (const [name, port] of this.extraPorts) values[`ports.${name}`] = String(port);
    const on = new Set<string>();
    if (r !== undefined) on.add("relay");
    if (this.lookupsAt !== null) on.add("lookups");
    if (this.ipv6) on.add("ipv6");
    if (this.spec.tls) on.add("tls");
    if (this.spec.implicitTls) on.add("implicitTls");
    if (this.sink !== null) on.add("sink");
    return { values, on };
  }

  protected async prepare(dir: string, port: number): Promise<void> {
    for (const d of this.spec.directories) await mkdir(join(dir, d), { recursive: true });
    if (this.spec.tls) await selfSignedCert(dir, this.spec.hostname);
    if (this.spec.implicitTls) this.tlsPort ??= await freePort();
    for (const name of this.spec.ports) if (!this.extraPorts.has(name)) this.extraPorts.set(name, await freePort());
    if (this.spec.delivery === "sink" && this.sink === null) {
      this.ownSink = this.o.sink === undefined;
      this.sink = this.o.sink ?? new RecordingSink({ maildir: join(dir, "sink"), hostname: "sink.smtpchaos.test" });
      if (this.ownSink) await this.sink.start();
    }
    if (this.o.lookups !== undefined) {
      this.lookupsAt = await this.o.lookups.serve({ domains: this.localDomains, recipients: Object.fromEntries(this.localAddresses.map((m) => [m, m])) });
    }
    const { values, on } = this.values(dir, port);
    for (const [name, template] of Object.entries(this.spec.files)) {
      const path = join(dir, name);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, render(template, values, on));
    }
    if (this.spec.isolateDns) await writeFile(join(dir, "resolv.conf"), "nameserver 127.0.0.1\n");
    if (this.spec.syslog) await this.openSyslog(dir);
    if (this.fiuRoles.length > 0) await this.prepareFiu(dir);
    await this.prepareShim(dir);
    for (const step of this.spec.prepare ?? []) {
      const [c, ...args] = step.map((a) => render(a, values, on));
      await this.control(c as string, args);
    }
    if (!this.helpers.started && this.spec.helpers.length > 0) {
      await this.helpers.start(
        dir,
        this.spec.helpers.map((h) => ({
          name: h.name,
          command: h.command.map((a) => render(a, values, on)),
          env: { ...process.env, ...Object.fromEntries(Object.entries(h.env).map(([k, v]) => [k, render(v, values, on)])) },
          readyPort: h.ready === null ? null : Number(render(h.ready, values, on)) || null,
        })),
      );
    }
  }

  /** Where the file's mail goes with `delivery: sink` (null before the first start, or without one). */
  sinkAddress(): { host: string; port: number } | null {
    return this.sink?.address() ?? null;
  }

  /** The set-up's helper processes (name, PID, log). */
  helperProcesses(): Array<{ name: string; pid: number; log: string }> {
    return this.helpers.pids();
  }

  protected override async releaseSetUp(): Promise<void> {
    await this.helpers.stop();
    if (this.ownSink) await this.sink?.stop();
    this.sink = null;
    this.extraPorts.clear();
    this.tlsPort = null;
  }

  /** The logs are followed from before the MTA runs, so the crash patterns apply during start too. */
  protected override async beforeSpawn(dir: string): Promise<void> {
    for (const t of this.tails.splice(0)) t.stop();
    // after a restart the files still hold the earlier run's lines: an old fatal must not count again
    this.tails = this.logPaths(dir).map((p) => followFile(p, (line) => this.pushLog(line), existsSync(p) ? statSync(p).size : 0));
  }

  protected override missingListeners(pids: readonly number[]): string[] {
    const port = this.port ?? 0;
    // the v6 ones only when the machine has IPv6 loopback and the file did not say ipv6: false
    const declared: Array<{ port: number; family: 4 | 6; what: string }> = [
      ...(this.ipv6 ? [{ port, family: 6 as const, what: `({{host6}}; or say ipv6: false in ${this.spec.path})` }] : []),
      ...(this.tlsPort === null ? [] : [{ port: this.tlsPort, family: 4 as const, what: "(implicit TLS, {{tlsPort}})" }]),
      ...(this.tlsPort !== null && this.ipv6 ? [{ port: this.tlsPort, family: 6 as const, what: "(implicit TLS, {{tlsPort}} on {{host6}})" }] : []),
    ];
    return declared
      .filter((l) => !holdsListener(pids, l.port, l.family))
      .map((l) => {
        const where = l.family === 6 ? `[::1]:${l.port}` : `127.0.0.1:${l.port}`;
        // a stranger on our ports would take the clients' sessions
        return `${where} ${l.what}${hasListener(l.port, [l.family]) ? ", held by another program" : ""}`;
      });
  }

  protected override startFailureDetails(): string {
    if (this.dir === null) return "";
    const out: string[] = [];
    for (const p of this.logPaths(this.dir)) {
      let text: string;
      try {
        text = readFileSync(p, "utf8");
      } catch (err) {
        out.push(`${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        continue;
      }
      const lines = text.trimEnd().split("\n").slice(-FAILED_START_LOG_LINES);
      out.push(`${p} (last ${lines.length} lines):\n${lines.map((l) => `  ${visible(l)}`).join("\n")}`);
    }
    for (const h of this.spec.helpers) out.push(`helper ${h.name}: log ${join(this.dir, "helpers", `${h.name}.log`)}`);
    return out.length === 0 ? "" : `\n${out.join("\n")}`;
  }

  /**
   * The wrapper the start command runs through under libfiu: its control FIFOs are made
   * world-writable before libfiu's loader finds them (an MTA that drops root after start could
   * not open FIFOs libfiu made 0600 as root), then it becomes the MTA with libfiu preloaded.
   */
  private async prepareFiu(dir: string): Promise<void> {
    const fiuDir = join(dir, "fiu");
    await mkdir(fiuDir, { recursive: true });
    await chmod(fiuDir, 0o1777);
    const wrapper = [
      "#!/bin/sh",
      "# smtpchaos: the MTA's start command under libfiu, with a control FIFO for this process",
      `ctl='${join(fiuDir, "ctl")}'`,
      'mkfifo -m 0666 "$ctl-$$.in" "$ctl-$$.out" && chmod 0666 "$ctl-$$.in" "$ctl-$$.out"',
      // Not seeded: an MTA that forks a child per connection (Exim) would give each the same sequence.
      `export ${fiuPreloadEnv(undefined)} FIU_CTRL_FIFO="$ctl"`,
      'exec "$@"',
      "",
    ];
    await writeFile(join(fiuDir, "run"), wrapper.join("\n"));
    await chmod(join(fiuDir, "run"), 0o755);
  }

  protected command(dir: string): DaemonCommand {
    const { values, on } = this.values(dir, this.port ?? 0);
    const start = this.spec.start.map((a) => render(a, values, on));
    const argv = this.fiuRoles.length > 0 ? [join(dir, "fiu", "run"), ...start] : start;
    const env = { ...process.env, ...Object.fromEntries(Object.entries(this.spec.env).map(([k, v]) => [k, render(v, values, on)])) };
    // A private mount namespace whose resolv.conf names only loopback (the MTA cannot ask the
    // machine's nameserver, whatever its own resolver does), and whose /dev/log is ours.
    // sh execs the command ("$0" "$@").
    const setup = [
      ...(this.spec.isolateDns ? [`mount --bind ${shQuote(join(dir, "resolv.conf"))} /etc/resolv.conf`] : []),
      ...(this.spec.syslog ? [devLogCommands(syslogSocketPath(dir), join(dir, SYSLOG_SCRATCH))] : []),
    ];
    if (setup.length === 0) return { command: argv[0] as string, args: argv.slice(1), env };
    return { command: "unshare", args: ["-m", "--propagation", "private", "sh", "-c", `${setup.join(" && ")} && exec "$0" "$@"`, ...argv], env };
  }

  /** Listens on the socket the namespace's /dev/log will point at (kept across a failed launch's retry). */
  private async openSyslog(dir: string): Promise<void> {
    await mkdir(join(dir, SYSLOG_SCRATCH), { recursive: true });
    if (this.syslogSocket?.path === syslogSocketPath(dir)) return;
    await this.closeSyslog();
    this.syslogSocket = await listenSyslog(syslogSocketPath(dir), (line) => this.pushLog(line));
  }

  private async closeSyslog(): Promise<void> {
    const s = this.syslogSocket;
    this.syslogSocket = null;
    await s?.close();
  }

  protected fatalPatterns(): RegExp[] {
    return this.spec.crash.map((p) => new RegExp(p));
  }

  durableDirs(): readonly string[] {
    return this.spec.durable.map((d) => d.replace(/\/+$/, ""));
  }

  /** The file's Maildirs, and its own sink's (what arrives at a sink someone else runs is theirs to count). */
  protected maildirs(dir: string): string[] {
    const { values, on } = this.values(dir, this.port ?? 0);
    const own = this.spec.maildirs.map((m) => {
      const p = render(m, values, on);
      return isAbsolute(p) ? p : join(dir, p);
    });
    const sinkDir = this.ownSink ? this.sink?.maildir : null;
    return sinkDir === null || sinkDir === undefined ? own : [...own, sinkDir];
  }

  override async deliveredIds(): Promise<DeliveredIds> {
    const ids = await maildirIds(this.maildirs(this.workDir));
    // a copy kept by the sink without its 250 (lose-250) and sent again is one delivery
    return this.ownSink && this.sink !== null ? { ...ids, delivered: this.sink.excuseResends(ids.delivered) } : ids;
  }

  protected roleOf(cmdline: string): string | null {
    for (const [role, re] of this.roles) if (re.test(cmdline)) return role;
    return null;
  }

  /** The file's logs as paths (after a start). */
  logFiles(): string[] {
    return this.logPaths(this.workDir);
  }

  private logPaths(dir: string): string[] {
    const { values, on } = this.values(dir, this.port ?? 0);
    return this.spec.logs.map((l) => {
      const p = render(l, values, on);
      return isAbsolute(p) ? p : join(dir, p);
    });
  }

  protected override async afterStop(): Promise<void> {
    for (const t of this.tails.splice(0)) t.stop();
    await this.closeSyslog();
  }

  private rendered(cmd: readonly string[]): string[] {
    const { values, on } = this.values(this.workDir, this.port ?? 0);
    return cmd.map((a) => render(a, values, on));
  }

  async flushQueue(): Promise<void> {
    if (this.spec.flush === null) return;
    const [c, ...args] = this.rendered(this.spec.flush);
    await this.control(c as string, args);
  }

  /** Waits until no file appeared, moved or vanished in its Maildirs for settleMs (directory listings only, no message is read). */
  settleMailboxes(settleMs: number, maxMs: number, signal?: AbortSignal): Promise<SettleResult> {
    return settleMaildirs(this.maildirs(this.workDir), settleMs, maxMs, signal);
  }

  /** 0 when the file gives no queue-size command (see queueObservable). */
  async queueSize(): Promise<number> {
    const q = this.spec.queueSize;
    if (q === null) return 0;
    const [c, ...args] = this.rendered(q.command);
    const out = await this.control(c as string, args);
    if (q.parse === "lines") return out.split("\n").filter((l) => l.trim() !== "").length;
    const m = /-?\d+/.exec(out);
    if (m === null) throw new Error(`${this.name}: queue size command printed no number: ${JSON.stringify(out.slice(0, 200))}`);
    return Number(m[0]);
  }

  /** The ids the file's queueList command prints; null without one (stuck and lost are then told apart only by an empty queue). */
  async queueIds(): Promise<string[] | null> {
    const q = this.spec.queueList;
    if (q === null) return null;
    const [c, ...args] = this.rendered(q.command);
    return parseQueueIds(await this.control(c as string, args));
  }
}

/** The syslog socket in the instance directory, and the directory its /dev overlay is mounted on (in the namespace only). */
const syslogSocketPath = (dir: string): string => join(dir, "syslog.sock");
const SYSLOG_SCRATCH = ".syslog-dev";

function findProgram(p: string): boolean {
  if (p.includes("/")) return existsSync(p);
  return (process.env.PATH ?? "").split(delimiter).some((d) => d !== "" && existsSync(join(d, p)));
}
