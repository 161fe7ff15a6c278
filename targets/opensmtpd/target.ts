// OpenSMTPD 6.8 started isolated: its compiled-in spool, control socket and chroot are
// bind-mounted from the working directory inside a private mount namespace, and so is a
// resolv.conf that keeps its own resolver off the network (`lookup file`: /etc/hosts only).
import { existsSync } from "node:fs";
import { mkdir, writeFile, chmod, chown } from "node:fs/promises";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { MAIL_USER, userInfo } from "../process/users.js";
import { DaemonTarget } from "../process/daemon-target.js";
import { descendants } from "../process/procfs.js";
import { selfSignedCert } from "../process/tls-cert.js";
import type { DaemonCommand, DaemonTargetOptions } from "../process/daemon-target.js";

const run = promisify(execFile);

export const OPENSMTPD_PREFIX = process.env.SMTPCHAOS_OPENSMTPD_PREFIX ?? "/opt/smtpchaos/opensmtpd";

/** Known limit: the listen backlog is compiled in as 5; above ~5 concurrent connects throughput collapses. */
export const OPENSMTPD_LISTEN_BACKLOG = 5;

export interface OpenSmtpdOptions extends DaemonTargetOptions {
  /** extra lines for smtpd.conf, before the match rules (tables, filters) */
  extraConfig?: string[];
  /** replaces the recipient table with another table name declared in extraConfig */
  recipientTable?: string;
}

export class OpenSmtpdTarget extends DaemonTarget {
  readonly name = "opensmtpd";
  protected readonly masterRole = "parent";

  constructor(private readonly o: OpenSmtpdOptions = {}) {
    super(o);
  }

  get smtpd(): string {
    return join(OPENSMTPD_PREFIX, "usr/sbin/smtpd");
  }

  protected checkInstalled(): void {
    if (process.getuid?.() !== 0) throw new Error("the opensmtpd target needs root (it uses mount namespaces)");
    if (!existsSync(this.smtpd)) throw new Error(`OpenSMTPD is not installed at ${this.smtpd}: run 'npm run setup:mtas' as root`);
    if (!existsSync("/var/spool/smtpd") || !existsSync("/var/lib/opensmtpd/empty")) throw new Error("OpenSMTPD mount points are missing: run 'npm run setup:mtas' as root");
  }

  protected async prepare(dir: string, port: number): Promise<void> {
    const { uid, gid } = userInfo(MAIL_USER);
    for (const d of ["spool", "run", "empty", "Maildir"]) await mkdir(join(dir, d), { recursive: true });
    await chmod(join(dir, "spool"), 0o711);
    await chown(join(dir, "Maildir"), uid, gid);
    await writeFile(join(dir, "resolv.conf"), "nameserver 127.0.0.1\nlookup file\n");
    await writeFile(join(dir, "recipients"), this.mailboxes.map((m) => `${m} ${MAIL_USER}`).join("\n") + "\n");
    const tls = await selfSignedCert(dir);
    const conf = [
      `pki mx.test.example cert "${tls.cert}"`,
      `pki mx.test.example key "${tls.key}"`,
      `table recipients file:${join(dir, "recipients")}`,
      ...(this.o.extraConfig ?? []),
      `listen on 127.0.0.1 port ${port} tls pki mx.test.example hostname mx.test.example`,
      `action "local_mail" maildir "${join(dir, "Maildir")}" user ${MAIL_USER} virtual <${this.o.recipientTable ?? "recipients"}>`,
      `match from any for domain "${this.domain}" action "local_mail"`,
      "",
    ];
    await writeFile(join(dir, "smtpd.conf"), conf.join("\n"));
  }

  protected command(dir: string): DaemonCommand {
    const mounts = [
      [join(dir, "spool"), "/var/spool/smtpd"],
      [join(dir, "run"), "/run"],
      [join(dir, "empty"), "/var/lib/opensmtpd/empty"],
      [join(dir, "resolv.conf"), "/etc/resolv.conf"],
    ]
      .map(([from, to]) => `mount --bind '${from}' '${to}'`)
      .join(" && ");
    // unshare and sh exec into smtpd, so the PID we supervise is smtpd's parent process.
    return {
      command: "unshare",
      args: ["-m", "--propagation", "private", "sh", "-c", `${mounts} && exec '${this.smtpd}' -d -f '${join(dir, "smtpd.conf")}'`],
    };
  }

  protected fatalPatterns(): RegExp[] {
    return [/\bfatal\b/i, /\bexiting\b/, /lost child/];
  }

  protected maildirs(dir: string): string[] {
    return [join(dir, "Maildir")];
  }

  protected roleOf(cmdline: string): string | null {
    const m = /^smtpd: (.+)$/.exec(cmdline.trim());
    return m === null ? null : (m[1] as string);
  }

  /** Runs smtpctl inside the instance's mount namespace (it talks to the private control socket). */
  async smtpctl(...args: string[]): Promise<string> {
    const pid = this.smtpdPid();
    const { stdout } = await run("nsenter", ["-t", String(pid), "-m", join(OPENSMTPD_PREFIX, "usr/sbin/smtpctl"), ...args]);
    return stdout;
  }

  /** PID of the smtpd parent process (differs from the supervised PID under a wrapper such as strace). */
  smtpdPid(): number {
    const pid = this.pid;
    if (pid === null) throw new Error("opensmtpd is not running");
    const own = descendants(pid).find((p) => p.cmdline.startsWith(`${this.smtpd} -d`));
    return own === undefined ? pid : own.pid;
  }

  async flushQueue(): Promise<void> {
    await this.smtpctl("schedule", "all");
  }

  async queueSize(): Promise<number> {
    const out = await this.smtpctl("show", "queue");
    return out.split("\n").filter((l) => l.trim() !== "").length;
  }
}
