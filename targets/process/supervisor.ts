// Runs a daemon as our direct child so its death is seen at once (exit code or signal), keeps
// its output as log lines, watches for fatal log patterns, and stops it by PID only.
import { spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { createInterface } from "node:readline";
import type { CrashInfo } from "../target.js";
import { LogBuffer } from "./log-buffer.js";
import { groupMembers } from "./procfs.js";

export interface SupervisorOptions {
  command: string;
  args: string[];
  spawn?: SpawnOptions;
  /** log lines that mean the daemon is dying even before it exits */
  fatalPatterns?: RegExp[];
  /** name used in log lines */
  label: string;
}

export class Supervisor {
  readonly logs = new LogBuffer();
  private child: ChildProcess | null = null;
  private crashInfo: CrashInfo | null = null;
  private stopping = false;
  private readonly crashListeners = new Set<(c: CrashInfo) => void>();
  private exited: Promise<void> = Promise.resolve();

  constructor(private opts: SupervisorOptions) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  crash(): CrashInfo | null {
    return this.crashInfo;
  }

  onCrash(listener: (c: CrashInfo) => void): () => void {
    this.crashListeners.add(listener);
    return () => this.crashListeners.delete(listener);
  }

  /** Starts the daemon; `cmd` replaces the command line for this and later starts (logs and listeners stay). */
  start(cmd?: Pick<SupervisorOptions, "command" | "args">): ChildProcess {
    if (this.running) throw new Error(`${this.opts.label} is already running (pid ${this.pid})`);
    if (cmd !== undefined) this.opts = { ...this.opts, ...cmd };
    this.crashInfo = null;
    this.stopping = false;
    const child = spawn(this.opts.command, this.opts.args, { stdio: ["ignore", "pipe", "pipe"], ...this.opts.spawn });
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream }).on("line", (line) => this.ingest(line));
    }
    this.exited = new Promise<void>((resolve) => {
      child.once("exit", (code, signal) => {
        this.logs.push(`*** ${this.opts.label} (pid ${child.pid}) exited: ${signal !== null ? `signal ${signal}` : `code ${code}`}`);
        if (!this.stopping) this.recordCrash({ at: Date.now(), source: "exit", exitCode: code, signal, logTail: this.logs.tail(30) });
        resolve();
      });
      child.once("error", (err) => {
        this.logs.push(`*** ${this.opts.label}: cannot run ${this.opts.command}: ${err.message}`);
        this.recordCrash({ at: Date.now(), source: "exit", exitCode: null, signal: null, line: err.message, logTail: this.logs.tail(30) });
        resolve();
      });
    });
    return child;
  }

  /**
   * SIGTERM, then SIGKILL after graceMs: to the process we spawned, or, when it was spawned
   * detached, to its whole process group (a wrapper such as strace would otherwise leave the
   * daemon behind). `first` SIGKILL: every process at once, with no shutdown work (a power cut).
   */
  async stop(graceMs = 5000, first: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (child === null || child.pid === undefined) return;
    this.stopping = true;
    const pid = child.pid;
    const group = this.opts.spawn?.detached === true;
    const signal = (sig: NodeJS.Signals): void => {
      try {
        process.kill(group ? -pid : pid, sig);
      } catch {
        // already gone
      }
    };
    if (this.running) {
      signal(first);
      const timer = setTimeout(() => signal("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    } else if (group && groupMembers(pid).length > 0) {
      // the main process died on its own; its children may not have noticed yet
      signal("SIGTERM");
    }
    await this.exited;
    if (group) await this.waitGroupGone(pid, graceMs, signal);
  }

  /** The rest of the group (children still exiting) must be gone too, or a restart finds its port taken. */
  private async waitGroupGone(pgid: number, graceMs: number, signal: (sig: NodeJS.Signals) => void): Promise<void> {
    const until = async (ms: number): Promise<boolean> => {
      const deadline = Date.now() + ms;
      while (groupMembers(pgid).length > 0) {
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 25));
      }
      return true;
    };
    if (await until(graceMs)) return;
    signal("SIGKILL");
    if (!(await until(2000))) this.logs.push(`*** ${this.opts.label}: processes ${groupMembers(pgid).join(", ")} of group ${pgid} survived SIGKILL`);
  }

  /** processes the toolkit is about to kill (pid -> until when), whose death the master may log */
  private readonly expected = new Map<number, number>();

  /**
   * The toolkit kills `pid` (a kill.<role> fault): a master that logs its death ("process ...
   * pid N killed by signal 9") reports our doing, not a crash, for the next `ms`.
   */
  expectDeath(pid: number, ms = 10_000): void {
    const now = Date.now();
    for (const [p, until] of this.expected) if (until < now) this.expected.delete(p);
    if (this.expected.size < 1024) this.expected.set(pid, now + ms);
  }

  /** A log line of the daemon (its output, or a log file followed elsewhere). */
  ingest(line: string): void {
    this.logs.push(line);
    if (this.stopping || this.crashInfo !== null) return;
    if ((this.opts.fatalPatterns ?? []).some((p) => p.test(line))) {
      const pid = /\bpid (\d+)\b/.exec(line)?.[1];
      const until = pid === undefined ? undefined : this.expected.get(Number(pid));
      if (until !== undefined && until >= Date.now()) {
        this.logs.push(`*** ${this.opts.label}: pid ${pid as string} was killed by the toolkit (a kill fault): not a crash`);
        return;
      }
      this.recordCrash({ at: Date.now(), source: "log", exitCode: null, signal: null, line, logTail: this.logs.tail(30) });
    }
  }

  private recordCrash(c: CrashInfo): void {
    if (this.crashInfo !== null) return;
    this.crashInfo = c;
    for (const l of this.crashListeners) l(c);
  }
}
