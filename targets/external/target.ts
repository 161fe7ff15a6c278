// A server the user runs (`monkey run --host H --port P`, `suite run --host H --port P`): the
// toolkit did not start it and can fault it only from outside (the network proxy). It can flush,
// count the queue of and restart it only through commands the user gives; without a queue count,
// deliveries are judged over once its Maildirs stop changing (the settle time). With --maildir
// (or --sink) it reads what was delivered, so the ledger and `expect delivered` work; without,
// the ledger is skipped and said so, and `expect delivered` test-cases are skipped.
import { UnreachableError } from "../../common/errors.js";
import type { RecordingSink } from "../sink/recording-sink.js";
import { BannerProbeError, probeBanner } from "../../smtp/probe.js";
import type { CrashInfo, DeliveredIds, DeliveredMessage, Endpoint, RoleProcess, Target, TargetStatus } from "../target.js";
import { maildirDelivered, maildirIds } from "../maildir/read.js";
import { settleMaildirs } from "../maildir/settle.js";
import type { SettleResult } from "../../common/settle.js";
import { parseQueueCount, runCommand } from "./commands.js";
import type { ExternalCommands } from "./commands.js";

/**
 * How much of each delivered message delivered() reads: `expect delivered` matches the header
 * section, which smtpscript looks for in the first 64 KiB. A server the user runs may deliver
 * into a Maildir holding much other mail: whole messages would be read for nothing.
 */
const HEAD_BYTES = 64 * 1024;

/** The server did not greet like an SMTP server at the startup probe: nothing to test yet. */
export class TargetProbeError extends UnreachableError {}

export interface ExternalTargetOptions {
  /** how long the probe waits to connect and for the banner (default 10 s) */
  probeTimeoutMs?: number;
  commands?: ExternalCommands;
  /** how long one command may run (default 60 s) */
  commandTimeoutMs?: number;
  /** without a queue-size command: how long the Maildirs must stay unchanged (default 5 s) */
  settleMs?: number;
  /** after the restart command: how long to wait for the banner again (default 60 s) */
  restartTimeoutMs?: number;
  /** the toolkit's recording sink the server relays to (--sink PORT): what arrives there is delivered */
  sink?: RecordingSink;
}

export class ExternalTarget implements Target {
  readonly name: string;
  readonly domain: string;
  private readonly probeTimeoutMs: number;
  private readonly commands: ExternalCommands;
  private readonly commandTimeoutMs: number;
  readonly settleMs: number;
  private readonly restartTimeoutMs: number;

  constructor(
    readonly endpoint: Endpoint,
    readonly mailboxes: readonly string[],
    private maildirs: readonly string[],
    o: ExternalTargetOptions = {},
  ) {
    this.name = `${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
    const first = mailboxes[0] ?? "";
    this.domain = first.slice(first.lastIndexOf("@") + 1);
    this.probeTimeoutMs = o.probeTimeoutMs ?? 10_000;
    this.commands = o.commands ?? {};
    this.commandTimeoutMs = o.commandTimeoutMs ?? 60_000;
    this.settleMs = o.settleMs ?? 5_000;
    this.restartTimeoutMs = o.restartTimeoutMs ?? 60_000;
    this.sink = o.sink ?? null;
    const sinkDir = this.sink?.maildir ?? null;
    if (sinkDir !== null) this.maildirs = [...maildirs, sinkDir];
  }

  private readonly sink: RecordingSink | null;

  get readsMailboxes(): boolean {
    return this.maildirs.length > 0;
  }

  /** true with a queue-size command; else queueSize() is a placeholder 0 and settle() judges */
  get queueObservable(): boolean {
    return this.commands.queueSize !== undefined;
  }

  get restartable(): boolean {
    return this.commands.restart !== undefined;
  }

  /** Waits until no file appeared, moved or vanished in the Maildirs for the settle time (at most maxMs, or until `signal` aborts). */
  settle(maxMs: number, signal?: AbortSignal): Promise<SettleResult> {
    return this.settleMailboxes(this.settleMs, maxMs, signal);
  }

  /** As settle(), for another settle time (the Target interface: `expect delivered` gives its own). */
  settleMailboxes(settleMs: number, maxMs: number, signal?: AbortSignal): Promise<SettleResult> {
    return settleMaildirs(this.maildirs, settleMs, maxMs, signal);
  }

  /**
   * Checks the server answers with a 220 banner; it is the user's to start. Any other answer
   * (refused, silent, reset, garbage, a code outside 2xx-5xx, a 4xx/5xx greeting) is one
   * TargetProbeError naming host:port and the reason, before any fault or flood starts.
   */
  async start(): Promise<void> {
    // the sink is up before the server is probed: it may start relaying at once
    if (this.sink !== null && this.sink.address() === null) await this.sink.start();
    try {
      await probeBanner(this.endpoint.host, this.endpoint.port, { timeoutMs: this.probeTimeoutMs });
    } catch (err) {
      if (err instanceof BannerProbeError) throw new TargetProbeError(`startup probe failed: ${err.message}`);
      throw err;
    }
  }

  /** Stops the sink (the server is the user's). */
  async stop(): Promise<void> {
    await this.sink?.stop();
  }

  /**
   * With a restart command: runs it, then waits for the banner again (a restarting server
   * refuses connections for a while). Without: only checks the server still answers.
   */
  async restart(): Promise<void> {
    if (this.commands.restart === undefined) return this.start();
    await runCommand("--restart-cmd", this.commands.restart, this.commandTimeoutMs);
    const deadline = Date.now() + this.restartTimeoutMs;
    for (;;) {
      try {
        return await this.start();
      } catch (err) {
        if (!(err instanceof TargetProbeError) || Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  async status(): Promise<TargetStatus> {
    return { running: true, pid: null, endpoint: this.endpoint, banner: null, crash: null };
  }

  logs(): readonly string[] {
    return [];
  }

  onLog(): () => void {
    return () => {};
  }

  crash(): CrashInfo | null {
    return null;
  }

  onCrash(): () => void {
    return () => {};
  }

  async flushQueue(): Promise<void> {
    if (this.commands.flush !== undefined) await runCommand("--flush-cmd", this.commands.flush, this.commandTimeoutMs);
  }

  /** The count the queue-size command printed; 0 without one (see queueObservable). */
  async queueSize(): Promise<number> {
    const cmd = this.commands.queueSize;
    if (cmd === undefined) return 0;
    return parseQueueCount("--queue-size-cmd", cmd, await runCommand("--queue-size-cmd", cmd, this.commandTimeoutMs));
  }

  /** What is in the Maildirs, each message's first 64 KiB as its data (the ledger reads deliveredIds()). */
  async delivered(): Promise<DeliveredMessage[]> {
    return maildirDelivered(this.maildirs, HEAD_BYTES);
  }

  async deliveredIds(): Promise<DeliveredIds> {
    return maildirIds(this.maildirs);
  }

  async processes(): Promise<RoleProcess[]> {
    return [];
  }
}
