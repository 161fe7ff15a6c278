// The one interface every system under test implements: the embedded MTA, OpenSMTPD, Postfix.
// smtpscript, storm, monkey and the suites only ever talk to a target through this.
import type { SettleResult } from "../common/settle.js";

/** Where clients connect. Always loopback (127.0.0.1 or ::1) for targets the toolkit starts. */
export interface Endpoint {
  host: string;
  /** plain SMTP (STARTTLS offered when the target has TLS) */
  port: number;
  /** implicit-TLS (SMTPS) port, when the target listens on one */
  tlsPort?: number;
  /**
   * The IPv6 address the same server also listens on, at the same ports ("::1" for targets the
   * toolkit starts); absent when it listens on IPv4 only (e.g. the machine has no IPv6 loopback).
   */
  host6?: string;
}

/** A process of the target that the monkey can pause, kill or inject faults into. */
export interface RoleProcess {
  /** e.g. "queue", "lookup", "pony express", "smtpd", "cleanup", "master" */
  role: string;
  pid: number;
}

export interface CrashInfo {
  /** when the crash was detected (ms since epoch) */
  at: number;
  /** "exit" when the daemon we are the parent of died, "log" when a fatal log line was seen */
  source: "exit" | "log";
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** the log line that revealed it (source "log") */
  line?: string;
  /** the last log lines before the crash */
  logTail: string[];
}

/** One line for a crash: the fatal log line, the signal, or the exit code. */
export function describeCrash(c: CrashInfo): string {
  if (c.source === "log") return `log: ${c.line ?? "?"}`;
  return c.signal !== null ? `killed by ${c.signal}` : `exit code ${c.exitCode ?? "?"}`;
}

/**
 * The domain of the senders the toolkit's floods use (monkey). The shipped targets deliver it
 * locally, every local part into one Maildir, so that bounces (DSNs) of their mail are observable.
 */
export const SENDER_DOMAIN = "client.smtpchaos.test";

/** A message the target delivered to its local mailbox (or next hop), as read back by the toolkit. */
export interface DeliveredMessage {
  /** value of the X-Smtpchaos-Id header (the ledger id), null when the message has none */
  id: string | null;
  /**
   * set on a bounce (a DSN: a null-sender message reporting a failed delivery): the
   * X-Smtpchaos-Id found in the headers it carries of the original message, null when none
   */
  bounceOf?: string | null;
  /** mailbox recipient or file path, for humans */
  location: string;
  size: number;
  /** the raw message as delivered (its first 64 KiB from a server the toolkit does not run) */
  data: Buffer;
}

/** The ledger ids of everything delivered, bounces apart (read from message heads only). */
export interface DeliveredIds {
  /** X-Smtpchaos-Id of every delivered copy that is not a bounce (null: a message without the header) */
  delivered: Array<string | null>;
  /** for every bounce delivered: the X-Smtpchaos-Id of the message it reports on (null: none found) */
  bounced: Array<string | null>;
}

export interface TargetStatus {
  running: boolean;
  pid: number | null;
  endpoint: Endpoint | null;
  /** banner probe: the greeting line, or why it failed */
  banner: { ok: true; line: string } | { ok: false; reason: string } | null;
  crash: CrashInfo | null;
}

/** Options every kind of target takes (library users; crash runs). */
export interface TargetHookOptions {
  /**
   * Called by every start() once the instance directory and its files are in place, just before
   * the MTA runs (a crash run mounts its recording file system over the durable directories here).
   */
  beforeLaunch?: (dir: string, target: Target) => Promise<void>;
  /** Called by stop() once the MTA is down, before the instance directory is removed (what beforeLaunch mounted is unmounted here). */
  onStopped?: (dir: string) => Promise<void>;
}

export interface Target {
  readonly name: string;
  /** the mail domain the target accepts and delivers locally, e.g. "test.example" */
  readonly domain: string;
  /** local recipients that exist, e.g. ["user@test.example"] */
  readonly mailboxes: readonly string[];
  /** valid after start() resolved */
  readonly endpoint: Endpoint;

  /** Starts isolated (own ports on loopback, own spool/config/mailboxes) and resolves once a banner probe succeeds. */
  start(): Promise<void>;
  /** Stops by PID; idempotent; safe to call after a crash or a failed start. */
  stop(): Promise<void>;
  /**
   * Kills every process of the MTA at once with SIGKILL, as a power cut would stop them: no
   * shutdown work, not a crash of the MTA. The instance directory stays; start() brings it back.
   * Absent where the MTA is not a process of its own (the in-process embedded target).
   */
  powerCut?(): Promise<void>;
  restart(): Promise<void>;
  status(): Promise<TargetStatus>;

  /** Log lines kept so far (bounded), newest last. */
  logs(): readonly string[];
  onLog(listener: (line: string) => void): () => void;
  /** The first crash seen since the last start, or null. */
  crash(): CrashInfo | null;
  onCrash(listener: (crash: CrashInfo) => void): () => void;

  /** Asks the target to retry everything queued now. */
  flushQueue(): Promise<void>;
  /** Messages still in the queue (not yet delivered). */
  queueSize(): Promise<number>;
  /** false when queueSize() cannot be known (a target file without a queue-size command) */
  readonly queueObservable?: boolean;
  /** with no observable queue: waits until its mailboxes stop changing for settleMs (at most maxMs; an abort of `signal` ends it at once) */
  settleMailboxes?(settleMs: number, maxMs: number, signal?: AbortSignal): Promise<SettleResult>;
  /** Everything delivered since start (kept across restart()). */
  delivered(): Promise<DeliveredMessage[]>;
  /** Just the ledger ids of everything delivered, bounces apart (cheap: reads message heads only). */
  deliveredIds?(): Promise<DeliveredIds>;
  /**
   * The X-Smtpchaos-Id of every message still in the queue (a queued bounce gives the id of the
   * message it reports on); null when this target cannot list them (then only queueSize() is known).
   */
  queueIds?(): Promise<string[] | null>;
  /** The target's processes by role, for process faults. */
  processes(): Promise<RoleProcess[]>;
  /**
   * The toolkit is about to kill this process of the target (a kill fault): its master's log line
   * about that death is not a crash.
   */
  expectDeath?(pid: number): void;
  /**
   * The directories, relative to the instance directory, whose contents must survive a host
   * crash (queue or spool, the Maildirs it delivers to); empty when the target cannot say.
   */
  durableDirs?(): readonly string[];
  /** Leaves the instance directory (config, spool, logs, mailboxes) in place at stop, for a post-mortem; its path. */
  keepFiles?(): string | null;
  /** Why start() would fail on this machine before launching anything (not installed, needs root), or null. */
  unavailable?(): string | null;
}

/** The ledger ids of everything a target delivered, bounces apart: its cheap reading, else from the whole messages. */
export async function deliveredIdsOf(target: Target): Promise<DeliveredIds> {
  if (target.deliveredIds !== undefined) return target.deliveredIds();
  const out: DeliveredIds = { delivered: [], bounced: [] };
  for (const m of await target.delivered()) {
    if (m.bounceOf !== undefined) out.bounced.push(m.bounceOf);
    else out.delivered.push(m.id);
  }
  return out;
}
