// The shipped suites run against one server and judged by the target's expectations: the one run
// behind `smtpchaos suite run` (suite-cli.ts) and `smtpchaos report matrix` (bin/report/), so a
// matrix cell is exactly what `suite run` says of that test-case.
import { loadProgram } from "./parse.js";
import type { Program } from "./ast.js";
import { runProgram } from "./runner.js";
import type { ScriptTarget, ServerAddress } from "./runner.js";
import { expectationsFileFor, judge, suiteOf } from "./suites.js";
import type { Expectations, JudgedResult, Suite } from "./suites.js";
import { PROBED_VARIABLES, markSkips, needsDeliveries, probeCapabilities, sizeVariables, unavailableVariables } from "./suite-server.js";
import type { ProbedVariables, SkipRule } from "./suite-server.js";
import { SmtpError } from "../smtp/errors.js";
import { targetPlugin } from "../targets/registry.js";

/** A target's own expectations: what its target file names, else suites/expectations/NAME.yaml. */
export function targetExpectations(ref: string): string {
  const plugin = targetPlugin(ref);
  return plugin.expectations ?? expectationsFileFor(plugin.name);
}

/** Every file of the suites, parsed; throws the ScriptError of the first that does not parse. */
export function loadSuitePrograms(suites: readonly Suite[], defines: Readonly<Record<string, string>>): Program[] {
  const knownVariables = [...Object.keys(defines), ...PROBED_VARIABLES];
  return suites.flatMap((s) => s.files.map((f) => loadProgram(f, { knownVariables })));
}

export interface SuiteRunOptions {
  programs: readonly Program[];
  server: ServerAddress;
  label: string;
  /** -D values (with a started target's domain and mailbox) */
  defines: Readonly<Record<string, string>>;
  /** what `expect delivered` and `monkey` statements reach; without it they are skipped */
  target?: ScriptTarget;
  expectations: Expectations;
  timeoutMs: number;
  /** each test-case as it ends, judged */
  onResult?: (judged: JudgedResult) => void;
  /** aborted: no further test-case starts, and the run returns what completed */
  signal?: AbortSignal;
  /** aborted: the test-cases running end at once, unreported */
  cutSignal?: AbortSignal;
  /** every random choice of the scripts (the library's `seed`) */
  seed?: number;
  /** a server off loopback, which the caller already permitted */
  allowRemote?: boolean;
}

/** Runs the programs (one EHLO probe first gives the size variables) and judges every test-case. */
export async function runSuites(o: SuiteRunOptions): Promise<JudgedResult[]> {
  const { expectations } = o;
  const probed = await probeVariables(o.server, o.timeoutMs);
  const skipRules: SkipRule[] = [
    (_uses, tc) => {
      const why = expectations.untestable.get(`${suiteOf(tc.file)}/${tc.title}`);
      return why === undefined ? null : `untestable here: ${why}`;
    },
    unavailableVariables(probed.unavailable),
    ...(o.target === undefined ? [needsDeliveries] : []),
  ];
  const defines = { ...probed.defines, ...o.defines };
  const judged: JudgedResult[] = [];
  for (const program of o.programs) {
    if (o.signal?.aborted === true) break;
    await runProgram(markSkips(program, skipRules), {
      server: o.server,
      targetLabel: o.label,
      timeoutMs: o.timeoutMs,
      defines,
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.allowRemote === true ? { allowRemote: true } : {}),
      ...(o.target !== undefined ? { target: o.target } : {}),
      ...(o.signal !== undefined ? { signal: o.signal } : {}),
      ...(o.cutSignal !== undefined ? { cutSignal: o.cutSignal } : {}),
      onResult: (r) => {
        const [j] = judge([r], expectations) as [JudgedResult];
        judged.push(j);
        o.onResult?.(j);
      },
    });
  }
  return judged;
}

/** The size variables from one EHLO; a server that cannot be probed gets none, with the reason. */
async function probeVariables(server: ServerAddress, timeoutMs: number): Promise<ProbedVariables> {
  try {
    return sizeVariables(await probeCapabilities(server, timeoutMs));
  } catch (err) {
    if (!(err instanceof SmtpError)) throw err;
    const why = `the EHLO probe failed: ${err.message}`;
    return { defines: {}, unavailable: new Map(PROBED_VARIABLES.map((v) => [v, why])) };
  }
}
