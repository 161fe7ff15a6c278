// Shipped suites and per-target expectations. A suite is a folder of .smtp files under suites/;
// an expectations file lists the test-cases a target is known to fail, each with the reason.
// A listed test-case that fails is a known deviation; one that passes is a change in behaviour
// and fails the run just like an unlisted failure does.
import { UserError } from "../common/errors.js";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import type { TestResult } from "./result.js";

export const SUITES_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "suites");

export interface Suite {
  name: string;
  files: string[];
}

export function listSuites(root = SUITES_DIR): Suite[] {
  return readdirSync(root)
    .filter((n) => n !== "expectations" && statSync(join(root, n)).isDirectory())
    .sort()
    .map((name) => ({
      name,
      files: readdirSync(join(root, name))
        .filter((f) => f.endsWith(".smtp"))
        .sort()
        .map((f) => join(root, name, f)),
    }))
    .filter((s) => s.files.length > 0);
}

export interface Expectations {
  /** "suite/test-case" -> why the target deviates */
  deviations: Map<string, string>;
  /**
   * "suite/test-case" -> why the harness cannot test it on this target (e.g. libfiu cannot
   * count): skipped with the reason. Not a deviation: the MTA's behaviour is unknown.
   */
  untestable: Map<string, string>;
  source: string | null;
}

/** An expectations file that cannot be used: one line, its text shown escaped. */
export class ExpectationsError extends UserError {}

/** The sections an expectations file may have (README "Suites"). */
const SECTIONS = ["deviations", "untestable"];

export function loadExpectations(file: string | null): Expectations {
  if (file === null || !existsSync(file)) return { deviations: new Map(), untestable: new Map(), source: null };
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ExpectationsError(`${file}: ${e.code === "EISDIR" ? "is a directory" : e.message}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new ExpectationsError(`${file}: ${(err as Error).message}`);
  }
  // Anything but a mapping of the documented sections (a bare string, binary garbage, a list, an
  // empty file) would silently expect nothing: refused, not read as "no deviations".
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    const got = doc === null || doc === undefined ? "an empty document" : Array.isArray(doc) ? "a list" : `a ${typeof doc}`;
    throw new ExpectationsError(`${file}: not an expectations file: expected a mapping with ${SECTIONS.map((x) => `"${x}:"`).join(" and/or ")}, got ${got}`);
  }
  const extra = Object.keys(doc).filter((k) => !SECTIONS.includes(k));
  if (extra.length > 0) throw new ExpectationsError(`${file}: unknown section "${extra[0]}" (expected ${SECTIONS.map((x) => `"${x}:"`).join(" and/or ")})`);
  const d = doc as { deviations?: unknown; untestable?: unknown };
  return { deviations: reasons(file, "deviations", "deviation", d.deviations), untestable: reasons(file, "untestable", "untestable", d.untestable), source: file };
}

function reasons(file: string, section: string, what: string, raw: unknown = {}): Map<string, string> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ExpectationsError(`${file}: "${section}" must map "suite/test-case" to a reason`);
  const out = new Map<string, string>();
  for (const [key, reason] of Object.entries(raw)) {
    if (!/^[^/]+\/.+$/.test(key)) throw new ExpectationsError(`${file}: ${what} key "${key}" is not "suite/test-case"`);
    if (typeof reason !== "string" || reason.trim() === "") throw new ExpectationsError(`${file}: ${what} "${key}" needs a reason`);
    out.set(key, reason.trim());
  }
  return out;
}

export function expectationsFileFor(target: string, root = SUITES_DIR): string {
  return join(root, "expectations", `${target}.yaml`);
}

export type Verdict = "passed" | "deviation" | "failed" | "error" | "skipped" | "unexpected-pass";

/** What fails a suite run (the CLI's exit 1, the library's `ok: false`): a known deviation does not; a listed one that passes does (the file is stale). */
export function isUnexpected(v: Verdict): boolean {
  return v === "failed" || v === "error" || v === "unexpected-pass";
}

export interface JudgedResult {
  suite: string;
  key: string;
  verdict: Verdict;
  /** the expectations file's reason, when it lists the test-case */
  reason: string | null;
  result: TestResult;
}

/**
 * Failure types that are the harness's own problem, not the server's: a statement the run could
 * not carry out (e.g. `expect delivered` with nothing to read deliveries from) or a bug. An
 * expectations file describes the MTA, so it can never excuse these. Errors on the wire (a TLS
 * handshake the server breaks, a timeout, a reset) are the server's behaviour and can be listed.
 */
export const HARNESS_FAILURE_TYPES: ReadonlySet<string> = new Set(["script", "internal"]);

export function isHarnessError(r: TestResult): boolean {
  return r.status === "error" && HARNESS_FAILURE_TYPES.has(r.failure?.type ?? "internal");
}

export function suiteOf(file: string): string {
  return basename(dirname(file));
}

/** Applies the expectations to raw results. */
export function judge(results: readonly TestResult[], exp: Expectations): JudgedResult[] {
  return results.map((result) => {
    const suite = suiteOf(result.file);
    const key = `${suite}/${result.name}`;
    const known = exp.deviations.get(key) ?? null;
    let verdict: Verdict;
    if (result.status === "skipped") verdict = "skipped";
    else if (known !== null) verdict = result.status === "passed" ? "unexpected-pass" : isHarnessError(result) ? "error" : "deviation";
    else verdict = result.status;
    return { suite, key, verdict, reason: known, result };
  });
}

/**
 * The results as reporters should see them: a known deviation is reported as skipped with its
 * reason (it must not fail CI), an unexpected pass as a failure saying the deviation is gone.
 */
export function asReported(judged: readonly JudgedResult[]): TestResult[] {
  return judged.map((j) => {
    if (j.verdict === "deviation") return { ...j.result, status: "skipped", skipReason: `known deviation: ${j.reason ?? ""}`, failure: null };
    if (j.verdict === "unexpected-pass") {
      return {
        ...j.result,
        status: "failed",
        failure: {
          message: `listed as a known deviation ("${j.reason ?? ""}") but passed: the target's behaviour changed; update the expectations file`,
          type: "expectation",
          loc: j.result.loc,
          sourceLine: null,
        },
      };
    }
    if (j.verdict === "error" && j.reason !== null && j.result.failure !== null) {
      return { ...j.result, failure: { ...j.result.failure, message: `${j.result.failure.message} (${HARNESS_NOT_EXCUSED})` } };
    }
    return j.result;
  });
}

/** The results that fail a suite run: failures, errors and unexpected passes. */
export function unexpectedResults(judged: readonly JudgedResult[]): number {
  return judged.filter((j) => isUnexpected(j.verdict)).length;
}

export const HARNESS_NOT_EXCUSED = "listed as a known deviation, but this is an ERROR of the harness, which an expectations file never excuses";

/** Deviations listed in the expectations whose test-case did not run at all (renamed or removed). */
export function staleDeviations(judged: readonly JudgedResult[], exp: Expectations, suites: readonly string[]): string[] {
  const seen = new Set(judged.map((j) => j.key));
  return [...exp.deviations.keys()].filter((k) => suites.includes(k.split("/")[0] as string) && !seen.has(k));
}
