// `smtpscript [options] FILE...` read into one typed configuration. parseScriptArgs checks every
// flag and claims the report files, and does nothing else; cli.ts runs the configuration.
import { parseAssignments } from "../common/assignments.js";
import { parseCli, parseCount, parseDurationFlag } from "../common/args.js";
import type { ChosenOutputs } from "../common/output.js";
import { loopbackUrl } from "../common/loopback.js";
import { UsageError } from "../common/errors.js";
import { chooseServer } from "../targets/server-choice.js";
import type { ServerSpec } from "./bind-target.js";
import { REPORTERS } from "./reporters/index.js";
import type { RunResult, TestResult } from "./result.js";
import { ORIGINAL_OPTIONS, originalFlags } from "./cli-original.js";
import type { OriginalFlags } from "./cli-original.js";

const OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  target: { type: "string" },
  tls: { type: "boolean" },
  starttls: { type: "boolean" },
  timeout: { type: "string" },
  define: { type: "string", short: "D", multiple: true },
  reporter: { type: "string", multiple: true },
  output: { type: "string" },
  jobs: { type: "string", short: "j" },
  monkey: { type: "string" },
  grep: { type: "string" },
  "allow-remote": { type: "boolean" },
  "allow-empty": { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  "no-color": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  ...ORIGINAL_OPTIONS,
} as const;

/** Neither --target nor --host/--port: the original's default, an MTA on this machine's port 25. */
const DEFAULT_SERVER = { host: "127.0.0.1", port: 25 };

export interface ScriptConfig {
  files: string[];
  /** a target the run starts and stops, or a server the user runs; either with --tls/--starttls */
  server: ServerSpec;
  timeoutMs: number;
  defines: Record<string, string>;
  reporters: ChosenOutputs<RunResult, TestResult>;
  jobs: number;
  grep: RegExp | null;
  /** the monkey's control API for `monkey` statements (--monkey URL) */
  monkey: string | null;
  allowRemote: boolean;
  allowEmpty: boolean;
  original: OriginalFlags;
}

/** Throws a UsageError (an OriginalFlagError for the original's flags) for anything it cannot take. */
export function parseScriptArgs(argv: string[]): ScriptConfig | "help" {
  const { values, positionals } = parseCli({ args: argv, allowPositionals: true, options: OPTIONS });
  if (values.help === true) return "help";
  if (positionals.length === 0) throw new UsageError("no script file given");
  const chosen = chooseServer(values, { otherwise: DEFAULT_SERVER, what: "connect to" });
  const allowRemote = values["allow-remote"] === true;
  if (values.monkey !== undefined) loopbackUrl(values.monkey, "--monkey", allowRemote);
  const defines = parseAssignments(values.define, "-D");
  const original = originalFlags(values);
  const verbose = values.verbose === true;
  const color = values["no-color"] !== true && process.env.NO_COLOR === undefined;
  const reporters = REPORTERS.choose({ out: values.reporter ?? (original.tap ? ["tap"] : []), lastTo: { flag: "--output", file: values.output } }, { verbose, color });
  const jobs = values.jobs === undefined ? 1 : parseCount(values.jobs, "--jobs");
  const grep = values.grep === undefined ? null : regex(values.grep, "--grep");
  // 0 is refused rather than read as "no timeout": a CI job must never wait forever.
  const timeoutMs = values.timeout === undefined ? 10_000 : parseDurationFlag(values.timeout, "--timeout");
  return {
    files: positionals,
    server: { ...chosen, tls: values.tls === true, starttls: values.starttls === true },
    timeoutMs,
    defines,
    reporters,
    jobs,
    grep,
    monkey: values.monkey ?? null,
    allowRemote,
    allowEmpty: values["allow-empty"] === true,
    original,
  };
}

function regex(source: string, flag: string): RegExp {
  try {
    return new RegExp(source);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}
