// `smtpchaos monkey sweep --target T`: flags -> runSweep -> outputs.
import { targetNames } from "../../targets/registry.js";
import { EXIT } from "../../common/exit-codes.js";
import { onInterrupt } from "../../common/interrupt.js";
import { formatDuration } from "../../common/duration.js";
import { parseCli, parseCount, parseDurationFlag } from "../../common/args.js";
import { reportUserError, UsageError } from "../../common/errors.js";
import { parseSeed, randomSeed } from "../../common/rng.js";
import { kindOf } from "../layers/registry.js";
import { monkeyTarget } from "../targets.js";
import { SWEEP_OUTPUTS } from "./outputs/index.js";
import { isSweepPhase, SWEEP_PHASES, type SweepPhase } from "./phases.js";
import { runSweep } from "./sweep.js";

export const SWEEP_USAGE = `usage: smtpchaos monkey sweep --target NAME|FILE [options]

Discovers every failure the toolkit can inject into the target (a profiling pass: each system
call of each process role with its call site, each hook and lookup, each role's processes, per
SMTP phase), then injects each failure ID exactly once into its own transaction of one flow,
judged by the oracle and the ledger. Prints the coverage matrix and every finding with its replay.

options:
  --target NAME|FILE   ${targetNames().join(", ")} (embedded by default), or a target file
  --points GLOBS       only these points, comma-separated (sys.queue.*, kill.*, *.fsync)
  --phases LIST        only these phases: ${SWEEP_PHASES.join(",")}
  --errnos all         every errno each call can return (default: the transient few per call)
  --delay D            also delay each site by D (past the MTA's own timeout finds what a hang does)
  --pairs              then a second failure at each site the MTA reached while a first one was in
                       effect, when the first left its transaction going (Filibuster's pruning)
  --budget D           stop starting transactions after D (default 30m); the matrix shows what was left
  --profile N          profiled transactions before the sweep (default 3)
  --timeout D          per-reply client timeout; a silent server past it is a hang (default 30s)
  --no-confirm         do not try findings again on a fresh instance
  --seed S             the flow's seed (messages, which process a kill hits)
  --out KIND[=FILE]    an output, repeatable; kinds:
${SWEEP_OUTPUTS.help("                         ")}
  --json FILE          the same as --out json=FILE

exit codes: 0 every failure ID was injected and handled gracefully, 1 findings, 2 usage error
(an unknown point glob, nothing to sweep, target not startable), 3 inconclusive (no findings,
but some failure IDs were not reached or not run), 130 interrupted (the partial report is written)`;

const OPTIONS = {
  target: { type: "string", default: "embedded" },
  points: { type: "string" },
  phases: { type: "string" },
  errnos: { type: "string" },
  delay: { type: "string" },
  budget: { type: "string", default: "30m" },
  profile: { type: "string", default: "3" },
  timeout: { type: "string", default: "30s" },
  "no-confirm": { type: "boolean" },
  pairs: { type: "boolean" },
  seed: { type: "string" },
  out: { type: "string", multiple: true },
  json: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** A glob must be able to name some point (sys.*.fsync, kill.*, queue.write): checked before anything starts. */
function pointGlobs(v: string): string[] {
  const globs = v.split(",").map((g) => g.trim()).filter((g) => g !== "");
  if (globs.length === 0) throw new UsageError("--points needs at least one point glob (sys.queue.*, kill.*)");
  for (const g of globs) if (g !== "*" && kindOf(g.replace(/\*/g, "x")) === null && kindOf(g.replace(/\*/g, "x.x")) === null) throw new UsageError(`--points: "${g}" names no fault point (e.g. sys.<role>.<call>, queue.<op>, lookup.<table>, kill.<role>)`);
  return globs;
}

function phaseList(v: string): SweepPhase[] {
  const out = v.split(",").map((p) => p.trim()).filter((p) => p !== "");
  const bad = out.filter((p) => !isSweepPhase(p));
  if (bad.length > 0 || out.length === 0) throw new UsageError(`--phases: unknown phase ${bad.join(", ") || "(none given)"} (${SWEEP_PHASES.join(", ")})`);
  return out as SweepPhase[];
}

export async function sweepMain(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseCli({ args: [...argv], options: OPTIONS, allowPositionals: false }));
  } catch (err) {
    console.error(`smtpchaos monkey sweep: ${(err as Error).message}`);
    return EXIT.usage;
  }
  if (values.help === true) {
    console.log(SWEEP_USAGE);
    return EXIT.ok;
  }
  try {
    const points = values.points === undefined ? null : pointGlobs(values.points);
    const phases = values.phases === undefined ? null : phaseList(values.phases);
    if (values.errnos !== undefined && values.errnos !== "all" && values.errnos !== "default") throw new UsageError(`--errnos: "all" or "default", got "${values.errnos}"`);
    const delayMs = values.delay === undefined ? null : parseDurationFlag(values.delay, "--delay");
    const budgetMs = parseDurationFlag(values.budget, "--budget");
    const profileTransactions = parseCount(values.profile, "--profile");
    const timeoutMs = parseDurationFlag(values.timeout, "--timeout");
    const seed = values.seed !== undefined ? parseSeed(values.seed) : randomSeed();
    const outputs = SWEEP_OUTPUTS.choose({ out: values.out, aliases: { json: values.json } });
    const ref = values.target;
    const interrupts = onInterrupt({ tool: "smtpchaos monkey sweep", first: "finishing the transaction in flight, reconciling, then reporting" });
    const tty = process.stderr.isTTY === true;
    console.error(`monkey sweep: ${ref}, seed ${seed}, budget ${formatDuration(budgetMs)}`);
    let report;
    try {
      report = await runSweep({
        createTarget: (extra) => monkeyTarget(ref, extra),
        targetRef: ref,
        seed,
        points,
        phases,
        choice: { allErrnos: values.errnos === "all", delayMs },
        budgetMs,
        profileTransactions,
        timeoutMs,
        confirm: values["no-confirm"] !== true,
        pairs: values.pairs === true,
        signal: interrupts.signal,
        onStage: (t) => process.stderr.write(`${tty ? "\r\x1b[K" : ""}monkey sweep: ${t}\n`),
        onProgress: (done, total, id) => {
          const line = `monkey sweep: ${done}/${total} ${id}`;
          if (tty) process.stderr.write(`\r${line}\x1b[K`);
          else if (done % 25 === 0) process.stderr.write(line + "\n");
        },
      });
    } finally {
      interrupts.off();
    }
    if (tty) process.stderr.write("\n");
    const written = await outputs.finish(report, "smtpchaos monkey sweep");
    if (report.verdict === "interrupted") return EXIT.interrupted;
    if (report.verdict === "findings") return EXIT.failures;
    if (!written) return EXIT.usage;
    return report.verdict === "inconclusive" ? EXIT.inconclusive : EXIT.ok;
  } catch (err) {
    return reportUserError(err, "smtpchaos monkey sweep");
  }
}
