// The user's own commands for a server the toolkit does not run (targets/external/target.ts):
// how many messages it has queued, how to make it retry them now, how to restart it. They run
// through /bin/sh so a user can write `exim -C /etc/exim.conf -bpc` or `postqueue -p | ...`.
import { UserError } from "../../common/errors.js";
import { execFile } from "node:child_process";

export interface ExternalCommands {
  /** prints the number of queued messages, and nothing else (e.g. `exim -bpc`) */
  queueSize?: string;
  /** makes the server retry everything queued now (e.g. `exim -qff`, `postqueue -f`) */
  flush?: string;
  /** restarts the server; the toolkit then waits for its banner */
  restart?: string;
}

/** A command failed, timed out or printed something that is not a count. */
export class ExternalCommandError extends UserError {}

const OUTPUT_LIMIT = 64 * 1024;

/** Runs `command` with /bin/sh and returns its stdout; a non-zero exit or a timeout throws. */
export function runCommand(flag: string, command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("/bin/sh", ["-c", command], { timeout: timeoutMs, maxBuffer: OUTPUT_LIMIT, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      if (err === null) return resolve(stdout);
      const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
      const why = e.killed === true ? `timed out after ${timeoutMs} ms` : typeof e.code === "number" ? `exit code ${e.code}` : e.message;
      const said = stderr.trim().split("\n").slice(-1)[0] ?? "";
      reject(new ExternalCommandError(`${flag} "${command}" failed: ${why}${said !== "" ? `: ${said}` : ""}`));
    });
  });
}

/** The queue size a --queue-size-cmd printed: one non-negative integer, surrounding white space allowed. */
export function parseQueueCount(flag: string, command: string, stdout: string): number {
  const t = stdout.trim();
  if (!/^\d{1,15}$/.test(t)) throw new ExternalCommandError(`${flag} "${command}" must print just a message count, it printed ${JSON.stringify(t.slice(0, 80))}`);
  return Number(t);
}
