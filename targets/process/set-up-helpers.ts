// Processes of the test set-up that are not the MTA (a backend it relays to, a milter, a policy
// server): started before it, kept across its restarts, stopped after it, by PID. They are not
// descendants of the MTA's master, so they are never roles or fault points; each writes into a
// log file of its own, and a death is reported in the target's log, not taken for the MTA's crash.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { hasListener } from "./procfs.js";

export interface HelperCommand {
  name: string;
  command: string[];
  env: NodeJS.ProcessEnv;
  /** a port it listens on once ready */
  readyPort: number | null;
}

interface Running {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  log: string;
}

export class SetUpHelpers {
  private readonly running: Running[] = [];

  constructor(
    private readonly say: (line: string) => void,
    private readonly readyTimeoutMs = 20_000,
  ) {}

  get started(): boolean {
    return this.running.length > 0;
  }

  /** Their PIDs by name (for `target check` and status). */
  pids(): Array<{ name: string; pid: number; log: string }> {
    return this.running.filter((r) => r.child.exitCode === null && r.child.signalCode === null && r.child.pid !== undefined).map((r) => ({ name: r.name, pid: r.child.pid as number, log: r.log }));
  }

  /** Starts each in turn and waits for its ready port; throws naming the helper, its exit status and its log. */
  async start(dir: string, helpers: readonly HelperCommand[]): Promise<void> {
    const logDir = join(dir, "helpers");
    mkdirSync(logDir, { recursive: true });
    for (const h of helpers) {
      const log = join(logDir, `${h.name}.log`);
      const fd = openSync(log, "a");
      let child: ChildProcess;
      try {
        child = spawn(h.command[0] as string, h.command.slice(1), { cwd: dir, env: h.env, detached: true, stdio: ["ignore", fd, fd] });
      } finally {
        closeSync(fd);
      }
      let failed: string | null = null;
      const exited = new Promise<void>((resolve) => {
        child.once("exit", (code, signal) => {
          failed = signal !== null ? `killed by ${signal}` : `exit status ${code ?? "?"}`;
          if (!this.stopping) this.say(`*** helper ${h.name} (pid ${child.pid ?? "?"}) exited: ${failed}; its log: ${log}`);
          resolve();
        });
        child.once("error", (err) => {
          failed = `cannot run ${h.command[0] ?? ""}: ${err.message}`;
          resolve();
        });
      });
      this.running.push({ name: h.name, child, exited, log });
      if (h.readyPort === null) continue;
      const deadline = Date.now() + this.readyTimeoutMs;
      while (!hasListener(h.readyPort)) {
        if (failed !== null) throw new Error(`helper ${h.name} ended before listening on port ${h.readyPort} (${failed as string}); its log: ${log}`);
        if (Date.now() > deadline) throw new Error(`helper ${h.name} does not listen on port ${h.readyPort} after ${this.readyTimeoutMs / 1000} s; its log: ${log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private stopping = false;

  /** SIGTERM to each one's process group, SIGKILL after graceMs; only our own children (their PIDs are not reaped yet). */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    for (const r of this.running.splice(0).reverse()) {
      const pid = r.child.pid;
      if (pid === undefined || r.child.exitCode !== null || r.child.signalCode !== null) continue;
      const signal = (sig: NodeJS.Signals): void => {
        try {
          process.kill(-pid, sig);
        } catch {
          // gone already
        }
      };
      signal("SIGTERM");
      const timer = setTimeout(() => signal("SIGKILL"), graceMs);
      await r.exited;
      clearTimeout(timer);
    }
    this.stopping = false;
  }
}
