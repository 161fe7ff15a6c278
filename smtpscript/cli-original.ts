// The original tool's command line, `smtpscript [-rvt] [-d delay] script`, plus --seed and
// --check, kept apart from cli.ts so that file only wires them in.
import { UserError } from "../common/errors.js";
import { loadProgram } from "./parse.js";
import { ScriptError } from "./errors.js";
import { parseSeed, randomSeed } from "../common/rng.js";
import type { Seed } from "../common/rng.js";

/** parseArgs option specs; -v is cli.ts's own --verbose. */
export const ORIGINAL_OPTIONS = {
  tap: { type: "boolean", short: "t" },
  delay: { type: "string", short: "d" },
  "random-delay": { type: "boolean", short: "r" },
  seed: { type: "string" },
  check: { type: "boolean" },
} as const;

export const ORIGINAL_USAGE = `original options (OpenSMTPD's smtpscript [-rvt] [-d delay] script):
  -t, --tap              TAP output on stdout (same as --reporter tap)
  -d, --delay MS         pause MS milliseconds before each test-case
  -r, --random-delay     pause a random time below the -d delay instead (drawn from the seed)
  --seed S               seed of every random choice (random, -r, \${uniq}); printed in every
                         report, so a run replays exactly with --seed S
  --check                parse and resolve the scripts only (procs, includes, variables), no
                         network; exit 0, or 2 with located errors`;

export interface OriginalFlags {
  tap: boolean;
  delayMs: number;
  randomDelay: boolean;
  seed: Seed;
  check: boolean;
}

export class OriginalFlagError extends UserError {}

export function originalFlags(values: { tap?: boolean; delay?: string; "random-delay"?: boolean; seed?: string; check?: boolean }): OriginalFlags {
  let delayMs = 0;
  if (values.delay !== undefined) {
    if (!/^\d{1,10}$/.test(values.delay) || Number(values.delay) > 2 ** 31 - 1) throw new OriginalFlagError(`-d: not a delay in milliseconds: "${values.delay}"`);
    delayMs = Number(values.delay);
  }
  if (values["random-delay"] === true && values.delay === undefined) throw new OriginalFlagError("-r draws a delay below -d: give -d too");
  let seed = randomSeed();
  if (values.seed !== undefined) {
    if (values.seed.trim() === "") throw new OriginalFlagError("--seed: a seed cannot be empty");
    seed = parseSeed(values.seed);
  }
  return { tap: values.tap === true, delayMs, randomDelay: values["random-delay"] === true, seed, check: values.check === true };
}

/** --check: every file loads (syntax, includes, procs, variables) or its errors are printed located; 0 or 2. */
export function checkScripts(files: readonly string[], knownVariables: readonly string[], out: { log: (s: string) => void; error: (s: string) => void } = console): number {
  let failed = 0;
  for (const file of files) {
    try {
      const p = loadProgram(file, { knownVariables });
      out.log(`${file}: ok (${p.testCases.length} test-case${p.testCases.length === 1 ? "" : "s"}, ${p.procs.size} proc${p.procs.size === 1 ? "" : "s"})`);
    } catch (err) {
      if (!(err instanceof ScriptError)) throw err;
      out.error(err.format());
      failed++;
    }
  }
  return failed === 0 ? 0 : 2;
}
