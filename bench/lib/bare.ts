// Runs bench/bare-client.ts (the runtime's limit) in a process of its own and reads its one JSON line.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface BareResult {
  mode: string;
  sessions: number;
  ok: number;
  failed: number;
  accepted: number;
  maxHolding: number;
  wallMs: number;
  /** user + system CPU of the client process, µs */
  cpuUs: number;
  peakRss: number;
  baseRss: number;
}

const SCRIPT = fileURLToPath(new URL("../bare-client.js", import.meta.url));

export function bareClient(args: readonly string[]): Promise<BareResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SCRIPT, ...args], { maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) return reject(new Error(`bare client ${args.join(" ")}: ${err.message} ${stderr}`));
      resolve(JSON.parse(stdout.trim().split("\n").pop() as string) as BareResult);
    });
  });
}
