// Runs the built CLIs as a user would, for exit codes and what lands on stderr.
import { spawn } from "node:child_process";

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(script: string, args: string[], opts: { onStdout?: (text: string, kill: (sig: NodeJS.Signals) => void) => void; shell?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = opts.shell !== undefined ? spawn("bash", ["-c", `${opts.shell}; exec "$0" "$@"`, process.execPath, script, ...args]) : spawn(process.execPath, [script, ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      opts.onStdout?.(stdout, (s) => child.kill(s));
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      opts.onStdout?.(stderr, (s) => child.kill(s));
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export const SMTPCHAOS = "dist/bin/smtpchaos.js";
export const SMTPSCRIPT = "dist/bin/smtpscript.js";

/** Lines of stderr that are not empty. */
export function errorLines(r: CliRun): string[] {
  return r.stderr.split("\n").filter((l) => l.trim() !== "");
}

/** A stack trace frame line, as Node prints them. */
export function hasStack(r: CliRun): boolean {
  return /^\s{4}at /m.test(r.stderr) || /^\s{4}at /m.test(r.stdout);
}
