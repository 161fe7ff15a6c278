// What the seccomp supervisor costs a process: N write(2)s to a pipe from a C program, run plain,
// under the launcher with write trapped and no rule armed (each call goes to the supervisor and
// back), with a rule armed for its role that never fires (the supervisor also finds the
// process, classifies the descriptor and counts), and with a record rule for every role (each call
// also gets its call site's stack hash and an event). Needs gcc and the supervisor (npm run setup:mtas).
// usage: node dist/bench/seccomp-cost.js [--calls N] [--runs R]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCount } from "../common/args.js";
import { SECCOMP_BIN, ShimControl, seccompCommand, seccompInstalled, type ShimRule } from "../targets/process/syscall-shim.js";
import { benchArgs, fail } from "./lib/args.js";

const USAGE = `usage: node dist/bench/seccomp-cost.js [--calls N] [--runs R]

Mean time of one write(2) to a pipe (N calls, default 200000; the median of R runs, default 3):
plain, under the seccomp supervisor with write trapped but no rule armed, with an armed rule
that never fires, and with a record rule for every role (a stack hash and an event per call).`;

const { calls, runs } = benchArgs("seccomp-cost", USAGE, { calls: { type: "string" }, runs: { type: "string" } }, (v) => ({
  calls: parseCount(typeof v.calls === "string" ? v.calls : "200000", "--calls"),
  runs: parseCount(typeof v.runs === "string" ? v.runs : "3", "--runs"),
}));
if (!seccompInstalled()) fail("seccomp-cost", `${SECCOMP_BIN} missing (run 'npm run setup:mtas')`);

const dir = mkdtempSync(join(tmpdir(), "smtpchaos-seccomp-bench-"));
try {
  const bin = join(dir, "seccomp-write");
  const cc = spawnSync("gcc", ["-O2", "-o", bin, fileURLToPath(new URL("../../bench/seccomp-write.c", import.meta.url))], { encoding: "utf8" });
  if (cc.status !== 0) fail("seccomp-cost", `gcc: ${cc.stderr || cc.error?.message}`);
  const ctl = await ShimControl.create(join(dir, "ctl"), "writer", []);
  const never: ShimRule = { point: "sys.writer.write", role: "writer", call: "write", schedule: { kind: "probability", p: 0 }, actions: [{ action: "delay", weight: 1 }], errno: 5, latency: { dist: "fixed", ms: 1 }, limit: null };
  const perCall = (argv: string[]): number => {
    const ns: number[] = [];
    for (let i = 0; i < runs; i++) {
      const [cmd, ...args] = [...argv, bin, String(calls)];
      const r = spawnSync(cmd as string, args, { encoding: "utf8" });
      if (r.status !== 0) fail("seccomp-cost", `${argv.join(" ")}: exit ${r.status} ${r.stderr}`);
      ns.push(Number(r.stdout.trim()));
    }
    return (ns.sort((a, b) => a - b)[Math.floor(ns.length / 2)] as number) / 1000;
  };
  const plain = perCall([]);
  ctl.setRules(1, []);
  const idle = perCall(seccompCommand(ctl.path, ["write"]));
  ctl.setRules(1, [never]);
  const armed = perCall(seccompCommand(ctl.path, ["write"]));
  const stats = ctl.stats().rules[0];
  const profile: ShimRule = { point: "sys.*.write", role: "*", call: "write", schedule: { kind: "always" }, actions: [{ action: "record", weight: 1 }], errno: 5, latency: null, limit: null };
  ctl.setRules(1, [profile]);
  const recording = perCall(seccompCommand(ctl.path, ["write"]));
  const sites = new Set(ctl.drainEvents().map((e) => e.stack));
  console.log(`write(2) of 64 bytes to a pipe, ${calls} calls, median of ${runs} runs (µs per call)`);
  console.log(`  plain                              ${plain.toFixed(2)}`);
  console.log(`  trapped, no rule armed             ${idle.toFixed(2)}  (+${(idle - plain).toFixed(2)})`);
  console.log(`  trapped, armed rule never firing   ${armed.toFixed(2)}  (+${(armed - plain).toFixed(2)})`);
  console.log(`  (armed rule: eligible ${stats?.eligible}, fired ${stats?.fired})`);
  console.log(`  trapped, recording call sites      ${recording.toFixed(2)}  (+${(recording - plain).toFixed(2)})`);
  console.log(`  (record rule: ${sites.size} call site(s) among the last events${sites.has(0) ? ", some unknown (0)" : ""})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
