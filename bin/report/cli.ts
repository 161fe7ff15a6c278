// `smtpchaos report matrix`: flags -> the columns -> each target's suites and sweep (or the
// records saved by an earlier run) -> the model -> its outputs.
import { targetNames } from "../../targets/registry.js";
import { formatDuration } from "../../common/duration.js";
import { EXIT } from "../../common/exit-codes.js";
import { onInterrupt } from "../../common/interrupt.js";
import { parseCli, parseDurationFlag } from "../../common/args.js";
import { reportUserError, UsageError } from "../../common/errors.js";
import { parseSeed, randomSeed } from "../../common/rng.js";
import { buildMatrix } from "./matrix.js";
import { MATRIX_OUTPUTS } from "./outputs.js";
import type { TargetRecord } from "./records.js";
import { runColumn } from "./run.js";
import { loadRecords, prepareSaveDir, saveRecords } from "./saved.js";
import { defaultColumns, namedColumns, type ColumnChoice } from "./targets.js";

export const MATRIX_USAGE = `usage: smtpchaos report matrix [--targets LIST] [--budget D] [--suites-only | --sweeps-only]
                              [--save DIR | --from DIR] --out md=FILE --out html=FILE ...

One page across targets, the way caniuse shows browsers: one column per target, a row per
suite test-case (pass, known deviation, fail, skipped, with the reason), a row per fault-sweep
point family (failure IDs handled gracefully / injected, findings), and a summary per target
(verdicts, counts, time taken). Each target runs the shipped suites as
'smtpchaos suite run --target NAME' runs and judges them, then 'smtpchaos monkey sweep
--target NAME' for --budget. Regenerate the page from saved results with --from.

options:
  --targets LIST     comma-separated: ${targetNames().join(", ")}, or target files
                     (default: embedded and every other known target installed here); a
                     target that cannot start is a column saying why
  --budget D         each target's sweep stops starting transactions after D (default 10m)
  --seed S           the sweeps' seed (default: random; the page shows each one's)
  --suites-only      only the suites (with --from: only their rows)
  --sweeps-only      only the sweeps (with --from: only their rows)
  --save DIR         also write each target's results as JSON, after each target:
                     DIR/index.json, DIR/NAME.suites.json (judged test-cases) and
                     DIR/NAME.sweep.json (the SweepReport, as monkey sweep --out json writes it)
  --from DIR         build the page from results saved with --save; runs nothing
  --out KIND[=FILE]  an output, repeatable (no FILE, or -: stdout); kinds:
${MATRIX_OUTPUTS.help("                       ")}

exit codes: 0 the page was written (whatever the targets did: the page shows it),
            2 usage error (an unknown target or output kind, nothing to write, --from without
              saved results, a file that could not be written), 130 interrupted (what
              completed is still written)`;

const OPTIONS = {
  targets: { type: "string" },
  budget: { type: "string" },
  seed: { type: "string" },
  "suites-only": { type: "boolean" },
  "sweeps-only": { type: "boolean" },
  save: { type: "string" },
  from: { type: "string" },
  out: { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
} as const;

const PAGES = ["md", "html", "json"];

export async function main(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === "--help" || action === "-h" || action === "help") {
    console.log(MATRIX_USAGE);
    return EXIT.ok;
  }
  if (action !== "matrix") {
    console.error(`smtpchaos report: expected 'matrix'${action !== undefined ? `, got '${action}'` : ""} (see smtpchaos report --help)`);
    return EXIT.usage;
  }
  try {
    return await matrix(rest);
  } catch (err) {
    return reportUserError(err, "smtpchaos report matrix");
  }
}

async function matrix(argv: string[]): Promise<number> {
  const { values } = parseCli({ args: argv, options: OPTIONS, allowPositionals: false });
  if (values.help === true) {
    console.log(MATRIX_USAGE);
    return EXIT.ok;
  }
  const suites = values["sweeps-only"] !== true;
  const sweeps = values["suites-only"] !== true;
  if (!suites && !sweeps) throw new UsageError("--suites-only and --sweeps-only exclude each other");
  const from = values.from;
  if (from !== undefined) {
    const ran = (["budget", "seed", "save"] as const).filter((k) => values[k] !== undefined);
    if (ran.length > 0) throw new UsageError(`--from runs nothing: --${ran.join(", --")} ${ran.length === 1 ? "does" : "do"} not apply`);
  }
  const budgetMs = parseDurationFlag(values.budget ?? "10m", "--budget");
  const seed = values.seed !== undefined ? parseSeed(values.seed) : randomSeed();
  const outputs = MATRIX_OUTPUTS.choose({ out: values.out });
  if (!outputs.kinds.some((k) => PAGES.includes(k)) && values.save === undefined) throw new UsageError("nothing to write: give --out md=FILE, --out html=FILE or --out json=FILE (or --save DIR)");
  const say = (t: string): void => void process.stderr.write(`report matrix: ${t}\n`);

  let records: TargetRecord[];
  let interrupted = false;
  let saved = true;
  if (from !== undefined) {
    records = pick(loadRecords(from), values.targets ?? null);
  } else {
    const columns = values.targets !== undefined ? namedColumns(values.targets) : defaultColumns();
    if (values.save !== undefined) prepareSaveDir(values.save);
    const interrupts = onInterrupt({ tool: "report matrix", first: "finishing the test-case or transaction in flight, then writing what completed" });
    try {
      ({ records, saved } = await runAll(columns, { suites, sweeps, budgetMs, seed, signal: interrupts.signal, save: values.save ?? null, say }));
    } finally {
      interrupts.off();
    }
    interrupted = interrupts.signal.aborted;
  }
  const written = await outputs.finish(buildMatrix(records, { suites, sweeps }), "smtpchaos report matrix");
  if (interrupted) return EXIT.interrupted;
  return written && saved ? EXIT.ok : EXIT.usage;
}

async function runAll(columns: readonly ColumnChoice[], o: { suites: boolean; sweeps: boolean; budgetMs: number; seed: number; signal: AbortSignal; save: string | null; say: (t: string) => void }): Promise<{ records: TargetRecord[]; saved: boolean }> {
  const records: TargetRecord[] = [];
  let saved = true;
  o.say(`${columns.map((c) => c.name).join(", ")}: ${[o.suites ? "suites" : "", o.sweeps ? `a sweep of ${formatDuration(o.budgetMs)} each (seed ${o.seed})` : ""].filter((x) => x !== "").join(" and ")}`);
  for (const c of columns) {
    const unavailable = c.unavailable ?? (o.signal.aborted ? "interrupted before its turn" : null);
    if (unavailable !== null) {
      o.say(`${c.name}: not run: ${unavailable}`);
      records.push({ name: c.name, ref: c.ref, unavailable, suites: null, suitesError: null, sweep: null, sweepError: null });
    } else {
      records.push(await runColumn(c.name, c.ref, { ...o, say: (t) => o.say(`${c.name}: ${t}`) }));
    }
    if (o.save !== null) {
      try {
        saveRecords(o.save, records);
      } catch (err) {
        // the run goes on: the pages still come out
        o.say(`cannot save to ${o.save}: ${(err as Error).message}`);
        saved = false;
      }
    }
  }
  return { records, saved };
}

/** With --from, --targets picks and orders saved columns. */
function pick(records: TargetRecord[], list: string | null): TargetRecord[] {
  if (list === null) return records;
  return list
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "")
    .map((t) => {
      const r = records.find((x) => x.name === t || x.ref === t);
      if (r === undefined) throw new UsageError(`--targets: ${t} is not among the saved targets (${records.map((x) => x.name).join(", ")})`);
      return r;
    });
}
