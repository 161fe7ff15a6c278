// The fault points a script may fire, declared up front by what it says: its `monkey fail|delay
// POINT` statements and `requires fault POINT` lines. A target is started with only the
// mechanisms these need (libfiu, the syscall supervisor): nothing is attached to the MTA for a
// script that never faults it.
import type { Program, Statement } from "./ast.js";
import { childrenOf } from "./parse.js";

export function declaredFaultPoints(programs: readonly Program[]): string[] {
  const out = new Set<string>();
  const walk = (body: readonly Statement[]): void => {
    for (const s of body) {
      if (s.kind === "monkey" && (s.args[0] === "fail" || s.args[0] === "delay") && s.args[1] !== undefined) out.add(s.args[1]);
      walk(childrenOf(s) ?? []);
    }
  };
  for (const p of programs) {
    for (const proc of p.procs.values()) walk(proc.body);
    for (const tc of p.testCases) {
      walk(tc.body);
      for (const f of tc.requiresFaults) out.add(f);
    }
  }
  return [...out];
}
