// What `suite run` learns about the server before the suites start, and what it does with it:
// one EHLO probe gives the variables that size checks to the server's own advertised limit, and
// test-cases that need something the run cannot give (delivered mail without Maildirs, a SIZE
// without a limit) are marked skipped with the reason, so they are never reported as ERROR.
import type { Capabilities } from "../smtp/capabilities.js";
import { testCaseTitle } from "./ast.js";
import type { Program, TestCase } from "./ast.js";
export { probeCapabilities } from "./probe.js";

/** Variables `suite run` defines from the probe (a script may also set defaults for them). */
export const PROBED_VARIABLES = ["size_limit", "size_over", "size_chunk"] as const;

/** `repeat N { write "${size_chunk}" }` in the suites: this many chunks make a message. */
export const SIZE_CHUNKS = 1024;

/** Above this the suite would rather skip than send (the server's limit is in effect "none"). */
export const MAX_SIZE_TO_SEND = 256 * 1024 * 1024;

export interface ProbedVariables {
  defines: Record<string, string>;
  /** variable -> why it has no value for this server; test-cases using it are skipped */
  unavailable: Map<string, string>;
}


/**
 * size_limit: the advertised SIZE; size_over: one more; size_chunk: CRLF-terminated lines of
 * text such that SIZE_CHUNKS of them are just over the limit, CRs not counted (a message only
 * slightly too big, not a fixed 40 MB that a server with a larger limit accepts).
 */
export function sizeVariables(caps: Capabilities): ProbedVariables {
  const limit = caps.size();
  const unavailable = new Map<string, string>();
  const why =
    limit === null ? "the server advertises no SIZE"
    : limit === 0 ? "the server advertises SIZE without a limit"
    : limit > MAX_SIZE_TO_SEND ? `the advertised SIZE ${limit} is over the ${MAX_SIZE_TO_SEND / 1048576} MiB a suite sends`
    : null;
  if (why !== null) {
    for (const v of PROBED_VARIABLES) unavailable.set(v, why);
    return { defines: {}, unavailable };
  }
  const size = limit as number;
  // Over by 1/64: MTAs that store lines with bare LF (Exim, OpenSMTPD) count a message without
  // its CRs (1/80 of these lines), and a message over only by its CRs would pass as in limit.
  const over = size + Math.ceil(size / 64) + 1;
  return { defines: { size_limit: String(size), size_over: String(size + 1), size_chunk: textOfLength(Math.ceil(over / SIZE_CHUNKS)) }, unavailable };
}

/** Lines of "x" (78 + CRLF) adding up to at least `n` bytes, never a lone CR or LF. */
export function textOfLength(n: number): string {
  const line = "x".repeat(78) + "\r\n";
  const full = Math.floor(n / line.length);
  let rest = n - full * line.length;
  if (rest === 1) rest = 2;
  return line.repeat(full) + (rest === 0 ? "" : "x".repeat(rest - 2) + "\r\n");
}

/** Why a test-case cannot run here, or null. */
export type SkipRule = (uses: Usage, tc: { title: string; file: string }) => string | null;

export interface Usage {
  /** statement kinds in the test-case and every proc it calls */
  kinds: Set<string>;
  /** variables referenced there */
  variables: Set<string>;
}

/**
 * A copy of the program in which every test-case a rule refuses is skipped with its reason.
 * The syntax tree is walked generically (any `body`, any `{ var }`), so statements added to the
 * grammar later are still seen.
 */
export function markSkips(program: Program, rules: readonly SkipRule[]): Program {
  if (rules.length === 0) return program;
  const testCases = program.testCases.map((tc): TestCase => {
    if (tc.skip !== null) return tc;
    const uses = usageOf(tc, program);
    for (const rule of rules) {
      const why = rule(uses, { title: testCaseTitle(tc), file: tc.loc.file });
      if (why !== null) return { ...tc, skip: why };
    }
    return tc;
  });
  return { ...program, testCases };
}

function usageOf(tc: TestCase, program: Program): Usage {
  const uses: Usage = { kinds: new Set(), variables: new Set() };
  const seenProcs = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n);
      return;
    }
    if (node === null || typeof node !== "object") return;
    const o = node as Record<string, unknown>;
    if (typeof o.var === "string") uses.variables.add(o.var);
    if (typeof o.kind === "string") uses.kinds.add(o.kind);
    if (o.kind === "call" && typeof o.name === "string" && !seenProcs.has(o.name)) {
      seenProcs.add(o.name);
      visit(program.procs.get(o.name)?.body);
    }
    for (const [k, v] of Object.entries(o)) if (k !== "loc") visit(v);
  };
  visit(tc.body);
  return uses;
}

/** Test-cases that use a variable the probe could not give a value. */
export function unavailableVariables(unavailable: ReadonlyMap<string, string>): SkipRule {
  return (uses) => {
    for (const v of uses.variables) {
      const why = unavailable.get(v);
      if (why !== undefined) return `${why} (needed for \${${v}})`;
    }
    return null;
  };
}

/** Test-cases with `expect delivered` when nothing can read what the server delivered. */
export const needsDeliveries: SkipRule = (uses) =>
  uses.kinds.has("expect-delivered") ? "expect delivered needs the server's Maildirs: give --maildir DIR (or run a --target the toolkit starts)" : null;
