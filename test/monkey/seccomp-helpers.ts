// Shared by the seccomp supervisor's tests: a temp dir whose supervisors end with the test, and a
// command run under the launcher until its supervisor is gone too.
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seccompCommand, type ShimCall } from "../../targets/process/syscall-shim.js";

const SUPERVISOR_TITLE = "smtpchaos-seccomp supervisor ";

/** pids of the supervisors serving control files under dir (by their title) */
export function supervisorsUnder(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "latin1");
      if (cmd.startsWith(SUPERVISOR_TITLE + dir)) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A temp dir for one test; on the way out (passed or not) its supervisors are ended and it is removed. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-seccomp-"));
  t.after(() => {
    for (const pid of supervisorsUnder(dir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

export interface Run {
  status: number | null;
  stdout: string[];
  stderr: string;
  ms: number;
}

/** Runs a command under the supervisor (stdout a pipe: a channel); waits until its supervisor is gone too. */
export async function launch(ctl: string, calls: readonly ShimCall[], command: readonly string[], stderr: "pipe" | "ignore" = "ignore"): Promise<Run> {
  const t0 = Date.now();
  const [bin, ...prefix] = seccompCommand(ctl, calls) as [string, ...string[]];
  const r = spawnSync(bin, [...prefix, ...command], { env: { PATH: process.env.PATH }, stdio: ["ignore", "pipe", stderr], timeout: 60_000, killSignal: "SIGKILL" });
  const ms = Date.now() - t0;
  const dir = ctl.slice(0, ctl.lastIndexOf("/"));
  for (let i = 0; i < 100 && supervisorsUnder(dir).length > 0; i++) await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(supervisorsUnder(dir), [], "the supervisor leaves with the last process it served");
  return { status: r.status, stdout: r.stdout.toString().split("\n").filter((l) => l !== ""), stderr: r.stderr?.toString() ?? "", ms };
}
