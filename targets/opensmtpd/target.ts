// OpenSMTPD 6.8 started isolated: its compiled-in spool, control socket and chroot are
// bind-mounted from the working directory inside a private mount namespace, and so is a
// resolv.conf that keeps its own resolver off the network (`lookup file`: /etc/hosts only).
import { TargetUnavailableError } from "../errors.js";
import type { TargetPlugin } from "../registry.js";
import { existsSync, realpathSync } from "node:fs";
import { mkdir, writeFile, chmod, chown, rm, readdir } from "node:fs/promises";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { MAIL_USER, userInfo } from "../process/users.js";
import { MtaTarget } from "../process/mta-target.js";
import type { MtaTargetOptions } from "../process/mta-target.js";
import { descendants, procInfo } from "../process/procfs.js";
import { selfSignedCert } from "../process/tls-cert.js";
import type { DaemonCommand } from "../process/daemon-target.js";
import { assertFiuInstalled, fiuPreloadEnv } from "../process/libfiu.js";
import type { FaultDescription, LookupRouter } from "../fault-hooks.js";
import { checkRelay } from "../process/relay.js";
import type { ShimRole } from "../process/syscall-shim.js";
import { SENDER_DOMAIN } from "../target.js";
import { fileIds } from "../message-head.js";

const run = promisify(execFile);

/** compiled into smtpd; a symlink into OPENSMTPD_PREFIX on this host (scripts/setup-mtas.sh) */
const OPENSMTPD_LIBEXEC = "/usr/libexec/opensmtpd";

export const OPENSMTPD_PREFIX = process.env.SMTPCHAOS_OPENSMTPD_PREFIX ?? "/opt/smtpchaos/opensmtpd";

/**
 * fiu: roles by process title (queue, lookup, "pony express", klondike, control, scheduler), each
 * with a libfiu remote-control pipe; lookups: the domains and recipients tables ask the router
 * through a table-proc backend.
 */
export interface OpenSmtpdOptions extends MtaTargetOptions {
  /** extra lines for smtpd.conf, before the match rules (tables, filters) */
  extraConfig?: string[];
  /** replaces the recipient table with another table name declared in extraConfig */
  recipientTable?: string;
}

/** roles the monkey may pause or kill */
const FAULT_ROLES = ["queue", "lookup", "pony express", "klondike", "control", "scheduler"] as const;

/** Process title of a role -> the name smtpd passes to its re-exec'ed child with -x. */
export const OPENSMTPD_ROLE_FLAGS: Readonly<Record<string, string>> = {
  queue: "queue",
  lookup: "lka",
  "pony express": "pony",
  klondike: "ca",
  control: "control",
  scheduler: "scheduler",
};

/** Where the libfiu control pipes live inside the instance's namespace (and its chroots). */
const FIU_NS_DIR = "/run/smtpchaos-fiu";

/** FIU_NS_DIR as seen from the host: the instance's run/ is bind-mounted on /run. */
function fiuHostDir(instanceDir: string): string {
  return join(instanceDir, "run", FIU_NS_DIR.slice("/run/".length));
}

export class OpenSmtpdTarget extends MtaTarget<OpenSmtpdOptions> {
  readonly name = "opensmtpd";
  protected readonly masterRole = "parent";
  protected readonly faultRoles = FAULT_ROLES;
  // the queue process writes and reads every envelope and message file
  protected readonly stallRole = "queue";

  constructor(o: OpenSmtpdOptions = {}) {
    super(o);
    if (o.relay !== undefined) checkRelay(o.relay, this);
  }

  protected libfiu(): FaultDescription["libfiu"] {
    return this.fiuRoles.length === 0 ? null : { kind: "fifo", roles: this.fiuRoles, prefix: () => join(fiuHostDir(this.workDir), "ctl"), stackScope: {} };
  }

  /**
   * Each child is re-executed with `-x FLAG`, then titles itself "smtpd: ROLE" (what roleOf
   * reads): the mechanism matches the live title, so both forms name the role; the parent is the master.
   */
  protected shimRoles(): ShimRole[] {
    return Object.entries(OPENSMTPD_ROLE_FLAGS).map(([name, flag]) => ({ name, pattern: `(^| )-x ${flag}( |$)|^[^ ]*smtpd: ${name}$` }));
  }

  get smtpd(): string {
    return join(OPENSMTPD_PREFIX, "usr/sbin/smtpd");
  }

  protected checkInstalled(): void {
    if (process.getuid?.() !== 0) throw new TargetUnavailableError("the opensmtpd target needs root (it uses mount namespaces)");
    if (!existsSync(this.smtpd)) throw new TargetUnavailableError(`OpenSMTPD is not installed at ${this.smtpd}: run 'npm run setup:mtas' as root`);
    if (!existsSync("/var/spool/smtpd") || !existsSync("/var/lib/opensmtpd/empty")) throw new TargetUnavailableError("OpenSMTPD mount points are missing: run 'npm run setup:mtas' as root");
  }

  protected async prepare(dir: string, port: number): Promise<void> {
    const { uid, gid } = userInfo(MAIL_USER);
    for (const d of ["spool", "run", "empty", "Maildir", "Bounces"]) await mkdir(join(dir, d), { recursive: true });
    await chmod(join(dir, "spool"), 0o711);
    await chown(join(dir, "Maildir"), uid, gid);
    await chown(join(dir, "Bounces"), uid, gid);
    await writeFile(join(dir, "resolv.conf"), "nameserver 127.0.0.1\nlookup file\n");
    await writeFile(join(dir, "recipients"), this.localAddresses.map((m) => `${m} ${MAIL_USER}`).join("\n") + "\n");
    // every address of the toolkit's senders, into one Maildir: their bounces land there
    await writeFile(join(dir, "senders"), `@${SENDER_DOMAIN} ${MAIL_USER}\n`);
    const tls = await selfSignedCert(dir);
    const tables = this.o.lookups === undefined ? [`table recipients file:${join(dir, "recipients")}`] : await this.prepareLookups(dir, this.o.lookups);
    const conf = [
      `pki mx.test.example cert "${tls.cert}"`,
      `pki mx.test.example key "${tls.key}"`,
      ...tables,
      `table flood_senders file:${join(dir, "senders")}`,
      ...(this.o.extraConfig ?? []),
      `listen on 127.0.0.1 port ${port} tls pki mx.test.example hostname mx.test.example`,
      ...(this.ipv6 ? [`listen on ::1 port ${port} tls pki mx.test.example hostname mx.test.example`] : []),
      `action "local_mail" maildir "${join(dir, "Maildir")}" user ${MAIL_USER} virtual <${this.o.recipientTable ?? "recipients"}>`,
      `match from any for domain ${this.o.lookups === undefined ? `"${this.domain}"` : "<domains>"} action "local_mail"`,
      // localhost is local too, as in a default configuration (OpenSMTPD's regress scripts mail user@localhost)
      `match from any for domain "localhost" action "local_mail"`,
      // the flood's senders are local too (a file table, never the monkey's lookups), so that bounces are delivered and counted
      `action "flood_senders" maildir "${join(dir, "Bounces")}" user ${MAIL_USER} virtual <flood_senders>`,
      `match from any for domain "${SENDER_DOMAIN}" action "flood_senders"`,
      ...this.relayConfig(),
      "",
    ];
    await writeFile(join(dir, "smtpd.conf"), conf.join("\n"));
    if (this.fiuRoles.length > 0) await this.prepareFiu(dir);
    await this.prepareShim(dir);
  }

  /**
   * The relay domain goes to the hop and nowhere else: a relay-url with an IP literal needs no
   * lookup (no MX, no A), smtp+notls keeps STARTTLS out of the hop's way. Any client may relay to
   * this one domain (the flood is unauthenticated); every other domain still matches no rule
   * and is refused at RCPT. OpenSMTPD 6.8 has no retry knob: the scheduler waits minutes after a
   * temporary failure, so the runner's `smtpctl schedule all` (flushQueue) drives the retries.
   * Its (undocumented) `mta limit` pacing does apply: by default it waits 5 s between connections
   * to a route and 3 s after one closes, and sends 100 messages a session, which relayed ~17
   * msg/s to a loopback hop here (600 messages: 36 s); without the waits, ~75 msg/s (8 s), and a
   * hop that dropped the line is tried again at once. Local deliveries do not use the mta.
   */
  private relayConfig(): string[] {
    const r = this.o.relay;
    if (r === undefined) return [];
    return [
      "mta limit conn-delay-route 0 reconn-delay-route 0 session-mail-max 1000",
      `action "relay_hop" relay host "smtp+notls://${r.host}:${r.port}"`,
      `match from any for domain "${r.domain}" action "relay_hop"`,
    ];
  }

  /**
   * `table NAME monkey:CFG` makes smtpd exec /usr/libexec/opensmtpd/table-monkey. That path is
   * shared by the whole host, so the instance gets a private copy of the libexec directory with
   * our backend in it, bind-mounted in its own mount namespace only (see command()).
   */
  private async prepareLookups(dir: string, lookups: LookupRouter): Promise<string[]> {
    const { host, port } = await lookups.serve({ domains: this.localDomains, recipients: Object.fromEntries(this.localAddresses.map((m) => [m, MAIL_USER])) });
    const libexec = join(dir, "libexec");
    await rm(libexec, { recursive: true, force: true });
    await run("cp", ["-a", realpathSync(OPENSMTPD_LIBEXEC), libexec]);
    await lookups.writeTableProc(join(libexec, "table-monkey"));
    const out: string[] = [];
    for (const map of ["domains", "recipients"] as const) {
      const cfg = join(dir, `table-${map}.json`);
      await writeFile(cfg, JSON.stringify({ socketmap: { host, port, map } }) + "\n", { mode: 0o644 });
      out.push(`table ${map} monkey:${cfg}`);
    }
    return out;
  }

  /** The roles running under libfiu (process titles). */
  get fiuRoles(): readonly string[] {
    return this.o.fiu ?? [];
  }

  /**
   * smtpd re-execs each child as `argv[0] ... -x ROLE`, so starting it with argv[0] = a wrapper
   * lets the wrapper preload libfiu into the chosen roles only. The control pipes are
   * pre-created world-writable (the roles drop privileges) in a directory that is also
   * bind-mounted at the same path inside both chroots: libfiu's control thread reopens the
   * pipes by path after every command, by then from inside the chroot.
   */
  private async prepareFiu(dir: string): Promise<void> {
    assertFiuInstalled();
    const flags = this.fiuRoles.map((r) => {
      const f = OPENSMTPD_ROLE_FLAGS[r];
      if (f === undefined) throw new Error(`opensmtpd: unknown role "${r}" for libfiu (${Object.keys(OPENSMTPD_ROLE_FLAGS).join(", ")})`);
      return f;
    });
    const fiuDir = fiuHostDir(dir);
    for (const d of [fiuDir, join(dir, "spool", FIU_NS_DIR), join(dir, "empty", FIU_NS_DIR)]) await mkdir(d, { recursive: true });
    for (const d of [join(dir, "spool", "run"), join(dir, "empty", "run")]) await chmod(d, 0o755);
    await chmod(fiuDir, 0o1777);
    const wrapper = [
      "#!/bin/bash",
      "# smtpchaos: preloads libfiu into the roles it was asked for, then becomes smtpd",
      'role=""; prev=""',
      'for a in "$@"; do [ "$prev" = "-x" ] && role="$a"; prev="$a"; done',
      `case " ${flags.join(" ")} " in`,
      '  *" $role "*)',
      '    if [ -n "$role" ]; then',
      `      ctl=${FIU_NS_DIR}/ctl`,
      '      mkfifo -m 0666 "$ctl-$$.in" "$ctl-$$.out"',
      `      export ${fiuPreloadEnv(this.o.fiuSeed)} FIU_CTRL_FIFO="$ctl"`,
      "    fi;;",
      "esac",
      `exec -a "$0" '${this.smtpd}' "$@"`,
      "",
    ];
    // Named smtpd: the children's process titles are "<basename of argv[0]>: ROLE".
    await mkdir(join(dir, "fiu-bin"), { recursive: true });
    await writeFile(this.fiuWrapper(dir), wrapper.join("\n"));
    await chmod(this.fiuWrapper(dir), 0o755);
  }

  private fiuWrapper(dir: string): string {
    return join(dir, "fiu-bin", "smtpd");
  }

  protected command(dir: string): DaemonCommand {
    const mounts = [
      [join(dir, "spool"), "/var/spool/smtpd"],
      [join(dir, "run"), "/run"],
      [join(dir, "empty"), "/var/lib/opensmtpd/empty"],
      [join(dir, "resolv.conf"), "/etc/resolv.conf"],
      ...(this.o.lookups === undefined ? [] : [[join(dir, "libexec"), realpathSync(OPENSMTPD_LIBEXEC)]]),
      // after the chroots are mounted: the same pipes at the same path inside both chroots
      ...(this.fiuRoles.length === 0
        ? []
        : ["/var/spool/smtpd", "/var/lib/opensmtpd/empty"].map((root) => [fiuHostDir(dir), join(root, FIU_NS_DIR)])),
    ]
      .map(([from, to]) => `mount --bind '${from}' '${to}'`)
      .join(" && ");
    // unshare and sh exec into smtpd, so the PID we supervise is smtpd's parent process
    return {
      command: "unshare",
      args: ["-m", "--propagation", "private", "sh", "-c", `${mounts} && exec ${this.fiuRoles.length === 0 ? `'${this.smtpd}'` : `'${this.fiuWrapper(dir)}'`} -d -f '${join(dir, "smtpd.conf")}'`],
    };
  }

  protected fatalPatterns(): RegExp[] {
    return [/\bfatal\b/i, /\bexiting\b/, /lost child/];
  }

  /** the spool bind-mounted at /var/spool/smtpd in its namespace, and the two Maildirs */
  durableDirs(): readonly string[] {
    return ["spool", "Maildir", "Bounces"];
  }

  protected maildirs(dir: string): string[] {
    return [join(dir, "Maildir"), join(dir, "Bounces")];
  }

  protected roleOf(cmdline: string): string | null {
    const m = /^smtpd: (.+)$/.exec(cmdline.trim());
    return m === null ? null : (m[1] as string);
  }

  /** Runs smtpctl inside the instance's mount namespace (it talks to the private control socket). */
  async smtpctl(...args: string[]): Promise<string> {
    const pid = this.smtpdPid();
    return this.control("nsenter", ["-t", String(pid), "-m", join(OPENSMTPD_PREFIX, "usr/sbin/smtpctl"), ...args]);
  }

  /**
   * PID of the smtpd parent process (differs from the supervised PID under a wrapper such as
   * strace). The parent forks a child for every mailbox delivery, and those carry its command
   * line too: the outermost match is the daemon (a fork picked here is gone a moment later, and
   * smtpctl through nsenter then fails as if the daemon were down).
   */
  smtpdPid(): number {
    const pid = this.pid;
    if (pid === null) throw new Error("opensmtpd is not running");
    const isSmtpd = (cmdline: string): boolean => cmdline.startsWith(`${this.smtpd} -d`) || cmdline.startsWith(`${this.fiuWrapper(this.workDir)} -d`);
    if (isSmtpd(procInfo(pid)?.cmdline ?? "")) return pid;
    // breadth first: the wrapper's child comes before its own forks
    const own = descendants(pid).find((p) => isSmtpd(p.cmdline));
    return own === undefined ? pid : own.pid;
  }

  async flushQueue(): Promise<void> {
    await this.smtpctl("schedule", "all");
  }

  async queueSize(): Promise<number> {
    const out = await this.smtpctl("show", "queue");
    return out.split("\n").filter((l) => l.trim() !== "").length;
  }

  /**
   * The ids of the messages in the queue, read from the spool (bind-mounted from the instance
   * directory): queue/BUCKET/MSGID/message is each message's one copy, kept until its last
   * envelope is done. A bounce is an envelope on the original message, so a message whose bounce
   * is still queued is listed too.
   */
  async queueIds(): Promise<string[]> {
    const queue = join(this.workDir, "spool", "queue");
    const paths: string[] = [];
    for (const bucket of await readdir(queue).catch(() => [] as string[])) {
      for (const msg of await readdir(join(queue, bucket)).catch(() => [] as string[])) paths.push(join(queue, bucket, msg, "message"));
    }
    return fileIds(paths);
  }
}

export const openSmtpdPlugin: TargetPlugin = {
  name: "opensmtpd",
  summary: "OpenSMTPD 6.8, isolated in a mount namespace (root, npm run setup:mtas)",
  create: (o) => new OpenSmtpdTarget(o as OpenSmtpdOptions),
  faultDefaults: { fiu: ["queue"], lookups: true, syscalls: true },
};
