// Postfix 3.7 as a private instance: its own config, queue and data directories, loopback
// only, no DNS, virtual mailboxes delivered to a Maildir in the working directory. The master
// runs in the foreground as our child (`master -s`, what `postfix start-fg` runs).
import { TargetUnavailableError } from "../errors.js";
import type { TargetPlugin } from "../registry.js";
import { existsSync, statSync } from "node:fs";
import { mkdir, writeFile, chown, copyFile, readdir, rm, chmod } from "node:fs/promises";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { MAIL_USER, userInfo } from "../process/users.js";
import { MtaTarget } from "../process/mta-target.js";
import type { MtaTargetOptions } from "../process/mta-target.js";
import { followFile } from "../process/follow-file.js";
import { selfSignedCert } from "../process/tls-cert.js";
import type { DaemonCommand } from "../process/daemon-target.js";
import { assertFiuInstalled, fiuPreloadEnv } from "../process/libfiu.js";
import type { FaultDescription } from "../fault-hooks.js";
import { checkRelay } from "../process/relay.js";
import type { ShimRole } from "../process/syscall-shim.js";
import { SENDER_DOMAIN } from "../target.js";
import { queueFileIds } from "./queue-file.js";

const run = promisify(execFile);

function fiuSpecPath(instanceDir: string, service: string): string {
  return join(instanceDir, "fiu", `enable-${service}`);
}

/** services the monkey may pause or kill */
const FAULT_ROLES = ["smtpd", "cleanup", "qmgr", "trivial-rewrite", "virtual", "pickup", "anvil", "proxymap"] as const;

/** the programs the syscall shim tells apart (the master is master(8)) */
const SHIM_PROGRAMS = [...FAULT_ROLES, "smtp", "bounce", "tlsmgr", "scache", "verify", "flush", "showq", "postlogd", "error", "discard", "local"] as const;

/**
 * libfiu's call-stack scope (enable_stack_by_name) for Postfix 3.7's cleanup: its services run
 * under libfiu from their first instruction (no remote control), so an unscoped open() failure
 * would hit startup (main.cf) and IPC, not the queue. The queue file is created in
 * mail_queue_enter (libpostfix-global); its records are written by rec_put, which flushes to the
 * file once the stream buffer (4 KB) is full, so queue.write only hits messages larger than that
 * (the final flush is a static function reached by a tail call, invisible to libfiu's
 * backtrace). fsync is unscoped: in cleanup only the queue file is fsync'ed.
 */
export const POSTFIX_FIU_SCOPE: Readonly<Record<string, string>> = {
  "queue.open": "mail_queue_enter",
  "queue.write": "rec_put",
};

export const POSTFIX_DAEMON_DIR = "/usr/lib/postfix/sbin";

/**
 * fiu: these master.cf services (cleanup, smtpd, qmgr, virtual...) run under libfiu. Its remote
 * control does not work in Postfix daemons, so each targeted program in a private
 * daemon_directory is a wrapper that preloads libfiu with the commands of its spec file as
 * FIU_ENABLE; new specs reach new processes after a reload. lookups: virtual_mailbox_domains and
 * virtual_mailbox_maps ask the router (socketmap).
 */
export interface PostfixOptions extends MtaTargetOptions {
  /** extra main.cf settings (override the defaults below) */
  main?: Record<string, string>;
  /** extra master.cf lines */
  master?: string[];
}

const SERVICES = [
  "pickup    unix  n - n 60 1 pickup",
  "cleanup   unix  n - n - 0 cleanup",
  "qmgr      unix  n - n 300 1 qmgr",
  "rewrite   unix  - - n - - trivial-rewrite",
  "bounce    unix  - - n - 0 bounce",
  "defer     unix  - - n - 0 bounce",
  "trace     unix  - - n - 0 bounce",
  "verify    unix  - - n - 1 verify",
  "flush     unix  n - n 1000? 0 flush",
  "proxymap  unix  - - n - - proxymap",
  "showq     unix  n - n - - showq",
  "error     unix  - - n - - error",
  "retry     unix  - - n - - error",
  "discard   unix  - - n - - discard",
  "virtual   unix  - n n - - virtual",
  "anvil     unix  - - n - 1 anvil",
  "scache    unix  - - n - 1 scache",
  "postlog   unix-dgram n - n - 1 postlogd",
  "tlsmgr    unix  - - n 1000? 1 tlsmgr",
];

export class PostfixTarget extends MtaTarget<PostfixOptions> {
  readonly name = "postfix";
  protected readonly masterRole = "master";
  protected readonly faultRoles = FAULT_ROLES;
  // no single process owns the queue (cleanup writes, qmgr moves, virtual reads)
  protected readonly stallRole = null;

  constructor(o: PostfixOptions = {}) {
    super(o);
    if (o.relay !== undefined) checkRelay(o.relay, this);
  }

  protected libfiu(): FaultDescription["libfiu"] {
    if (this.fiuServices.length === 0) return null;
    return { kind: "spec-file", roles: this.fiuServices, specFile: (svc) => fiuSpecPath(this.workDir, svc), reload: () => this.reloadFiu(), stackScope: POSTFIX_FIU_SCOPE };
  }

  /** each service is its own program, named first on its command line */
  protected shimRoles(): ShimRole[] {
    return SHIM_PROGRAMS.map((name) => ({ name, pattern: `^([^ ]*/)?${name}( |$)` }));
  }

  get configDir(): string {
    return join(this.workDir, "etc");
  }

  protected checkInstalled(): void {
    if (process.getuid?.() !== 0) throw new TargetUnavailableError("the postfix target needs root");
    if (!existsSync(join(POSTFIX_DAEMON_DIR, "master"))) throw new TargetUnavailableError(`Postfix is not installed (${POSTFIX_DAEMON_DIR}/master missing): run 'npm run setup:mtas' as root`);
  }

  protected async prepare(dir: string, port: number): Promise<void> {
    const { uid, gid } = userInfo(MAIL_USER);
    const routed = this.o.lookups === undefined ? null : await this.o.lookups.serve({ domains: this.localDomains, recipients: Object.fromEntries(this.localAddresses.map((m) => [m, "user/Maildir/"])) });
    const socketmap = (map: string): string => `socketmap:inet:${routed?.host}:${routed?.port}:${map}`;
    const pf = userInfo("postfix");
    for (const d of ["etc", "queue", "data", "log", "mail"]) await mkdir(join(dir, d), { recursive: true });
    await chown(join(dir, "data"), pf.uid, pf.gid);
    await chown(join(dir, "mail"), uid, gid);
    if (existsSync("/etc/postfix/dynamicmaps.cf")) await copyFile("/etc/postfix/dynamicmaps.cf", join(dir, "etc", "dynamicmaps.cf"));
    // every address of the toolkit's senders goes to one Maildir (a catch-all): their bounces land there
    await writeFile(join(dir, "etc", "vmailbox"), [...this.localAddresses.map((m) => `${m} user/Maildir/`), `@${SENDER_DOMAIN} bounces/Maildir/`].join("\n") + "\n");
    const tls = await selfSignedCert(dir);
    const main: Record<string, string> = {
      smtpd_tls_cert_file: tls.cert,
      smtpd_tls_key_file: tls.key,
      smtpd_tls_security_level: "may",
      compatibility_level: "3.6",
      queue_directory: join(dir, "queue"),
      data_directory: join(dir, "data"),
      daemon_directory: this.fiuServices.length === 0 ? POSTFIX_DAEMON_DIR : join(dir, "libexec"),
      command_directory: "/usr/sbin",
      meta_directory: "/etc/postfix",
      shlib_directory: "/usr/lib/postfix",
      mail_owner: "postfix",
      setgid_group: "postdrop",
      inet_interfaces: "loopback-only",
      inet_protocols: this.ipv6 ? "all" : "ipv4",
      myhostname: "mx.test.example",
      mydomain: this.domain,
      myorigin: this.domain,
      mydestination: "",
      mynetworks: this.ipv6 ? "127.0.0.1/32 [::1]/128" : "127.0.0.1/32",
      // localhost is local too, as in a default configuration (OpenSMTPD's regress scripts mail user@localhost)
      virtual_mailbox_domains: [...this.localDomains, SENDER_DOMAIN].join(", "),
      virtual_mailbox_base: join(dir, "mail"),
      virtual_mailbox_maps: `texthash:${join(dir, "etc", "vmailbox")}`,
      virtual_uid_maps: `static:${uid}`,
      virtual_gid_maps: `static:${gid}`,
      virtual_minimum_uid: "100",
      alias_maps: "",
      alias_database: "",
      local_recipient_maps: "",
      smtpd_peername_lookup: "no",
      smtp_dns_support_level: "disabled",
      // Nothing may leave this host: every non-local destination bounces inside Postfix.
      default_transport: "error:smtpchaos test instance does not relay",
      relay_transport: "error:smtpchaos test instance does not relay",
      smtpd_relay_restrictions: "reject_unauth_destination",
      notify_classes: "",
      maillog_file: join(dir, "log", "maillog"),
      maillog_file_prefixes: join(dir, "log"),
      smtpd_banner: "$myhostname ESMTP Postfix",
      biff: "no",
      // the senders' domain stays a literal: bounces to it never ask the monkey's lookups
      ...(routed === null ? {} : { virtual_mailbox_domains: `${SENDER_DOMAIN}, ${socketmap("domains")}`, virtual_mailbox_maps: socketmap("recipients") }),
      import_environment: "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_PRELOAD FIU_CTRL_FIFO FIU_ENABLE",
      ...this.relayMain(),
      ...this.o.main,
    };
    if (this.fiuServices.length > 0) await this.prepareFiu(dir);
    await this.prepareShim(dir);
    await writeFile(join(dir, "etc", "main.cf"), Object.entries(main).map(([k, v]) => `${k} = ${v}`).join("\n") + "\n");
    // virtual(8) refuses socketmap for virtual_mailbox_maps ("not allowed for security-sensitive
    // data": the values are paths), so with monkey lookups only smtpd's recipient check asks the
    // socketmap server and delivery keeps the local table.
    const services = routed === null ? SERVICES : SERVICES.map((l) => (/^virtual\s/.test(l) ? `${l} -o virtual_mailbox_maps=texthash:${join(dir, "etc", "vmailbox")}` : l));
    const master = [`127.0.0.1:${port} inet n - n - - smtpd`, ...(this.ipv6 ? [`[::1]:${port} inet n - n - - smtpd`] : []), ...services, ...this.relayMaster(), ...(this.o.master ?? [])];
    await writeFile(join(dir, "etc", "master.cf"), master.join("\n") + "\n");
    // `postfix check` creates the queue directories with the right owners and reports config
    // errors; without /dev/log it only speaks on a terminal, hence script(1). It takes two seconds:
    // a queue it already made (a restart, a crash run's state of it) is not checked again.
    if (existsSync(join(dir, "queue", "incoming"))) return;
    try {
      await run("script", ["-qc", `postfix -c '${join(dir, "etc")}' check`, "/dev/null"]);
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`postfix check failed: ${(e.stdout ?? "") + (e.stderr ?? "") || e.message}`);
    }
  }

  /**
   * The relay domain, and only it, goes to the hop: a bracketed IP literal skips MX and address
   * lookups, everything else keeps the `error:` transports above. The backoff timers are
   * Postfix's minimum of whole seconds, so mail the hop deferred is retried within seconds
   * (defaults: 300 s to 4000 s), and a hop that failed a whole connection (421, disconnect) is
   * tried again after minimal_backoff_time.
   */
  private relayMain(): Record<string, string> {
    const r = this.o.relay;
    if (r === undefined) return {};
    return {
      relay_domains: r.domain,
      transport_maps: `inline:{ ${r.domain}=smtp:[${r.host}]:${r.port} }`,
      smtp_tls_security_level: "none",
      queue_run_delay: "1s",
      minimal_backoff_time: "1s",
      maximal_backoff_time: "2s",
    };
  }

  /** The smtp client service the transport names (the base master.cf has none: nothing relays). */
  private relayMaster(): string[] {
    const has = (this.o.master ?? []).some((l) => /^smtp\s+unix\s/.test(l));
    return this.o.relay === undefined || has ? [] : ["smtp      unix  - - n - - smtp"];
  }

  /** The services running under libfiu. */
  get fiuServices(): readonly string[] {
    return this.o.fiu ?? [];
  }

  private async prepareFiu(dir: string): Promise<void> {
    assertFiuInstalled();
    const libexec = join(dir, "libexec");
    await rm(libexec, { recursive: true, force: true });
    await mkdir(libexec, { recursive: true });
    await mkdir(join(dir, "fiu"), { recursive: true });
    const programs = await readdir(POSTFIX_DAEMON_DIR);
    for (const svc of this.fiuServices) {
      if (!programs.includes(svc)) throw new Error(`postfix: no program "${svc}" in ${POSTFIX_DAEMON_DIR} to run under libfiu`);
    }
    for (const prog of programs) {
      const real = join(POSTFIX_DAEMON_DIR, prog);
      if (!this.fiuServices.includes(prog)) {
        // copies, not symlinks: `postfix check` warns about every symlink leaving the directory
        await copyFile(real, join(libexec, prog));
        await chmod(join(libexec, prog), 0o755);
        continue;
      }
      const spec = fiuSpecPath(dir, prog);
      if (!existsSync(spec)) await writeFile(spec, "");
      const wrapper = [
        "#!/bin/sh",
        "# smtpchaos: this service's processes start under libfiu with the commands of its spec file",
        // Not seeded: every process of a service would start the same sequence (see fiuPreloadEnv).
        `export ${fiuPreloadEnv(undefined)}`,
        `if [ -s '${spec}' ]; then FIU_ENABLE="$(cat '${spec}')"; export FIU_ENABLE; fi`,
        `exec '${real}' "$@"`,
        "",
      ];
      await writeFile(join(libexec, prog), wrapper.join("\n"));
      await chmod(join(libexec, prog), 0o755);
    }
  }

  /**
   * Makes new processes of the libfiu services start with their current spec files: Postfix's
   * reload (SIGHUP to the master) retires the running processes once they are idle.
   */
  private async reloadFiu(): Promise<void> {
    const pid = this.pid;
    if (pid === null) throw new Error("postfix is not running");
    process.kill(pid, "SIGHUP");
  }

  protected command(dir: string): DaemonCommand {
    return { command: join(POSTFIX_DAEMON_DIR, "master"), args: ["-s"], env: { ...process.env, MAIL_CONFIG: join(dir, "etc") } };
  }

  protected fatalPatterns(): RegExp[] {
    return [/\bfatal:/, /\bpanic:/, /killed by signal/, /\bthrottling\b/];
  }

  /** the whole queue (its sockets and FIFOs too: files move between its subdirectories by rename) and the mailboxes */
  durableDirs(): readonly string[] {
    return ["queue", "mail"];
  }

  protected maildirs(dir: string): string[] {
    return [join(dir, "mail", "user", "Maildir"), join(dir, "mail", "bounces", "Maildir")];
  }

  protected roleOf(cmdline: string): string | null {
    const first = cmdline.trim().split(/\s+/)[0] ?? "";
    return first === "" ? null : (first.split("/").pop() ?? null);
  }

  /** Postfix logs to maillog_file through postlogd; stream that file into the target's log too. */
  private tail: { stop: () => void } | null = null;

  override async start(): Promise<void> {
    // After a restart the file still holds the earlier run's lines: an old fatal must not count again.
    const maillog = (): string => join(this.workDir, "log", "maillog");
    const from = this.dir !== null && existsSync(maillog()) ? statSync(maillog()).size : 0;
    await super.start();
    this.tail = followFile(maillog(), (line) => this.pushLog(line), from);
  }

  protected override async afterStop(): Promise<void> {
    this.tail?.stop();
    this.tail = null;
  }

  async flushQueue(): Promise<void> {
    await this.control("postqueue", ["-c", this.configDir, "-f"]);
  }

  async queueSize(): Promise<number> {
    const stdout = await this.control("postqueue", ["-c", this.configDir, "-j"]);
    return stdout.split("\n").filter((l) => l.trim() !== "").length;
  }

  /** The ids of the messages in the queue, read from the queue files (see queue-file.ts). */
  async queueIds(): Promise<string[]> {
    return queueFileIds(join(this.workDir, "queue"));
  }
}

export const postfixPlugin: TargetPlugin = {
  name: "postfix",
  summary: "Postfix 3.7, a private instance (root, npm run setup:mtas)",
  create: (o) => new PostfixTarget(o as PostfixOptions),
  faultDefaults: { fiu: ["cleanup"], lookups: true, syscalls: true },
};
