// `smtpchaos crash run --target T` and `smtpchaos crash replay TRACE --state MODEL:N`: flags ->
// runCrash / one state's recovery -> outputs.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT } from "../../common/exit-codes.js";
import { onInterrupt } from "../../common/interrupt.js";
import { parseCli, parseCount, parseDurationFlag } from "../../common/args.js";
import { reportUserError, UsageError } from "../../common/errors.js";
import { createTarget, targetNames } from "../../targets/registry.js";
import { parseSeed, randomSeed } from "../../common/rng.js";
import { CRASH_OUTPUTS } from "./outputs/index.js";
import { MODELS, modelNamed, type PersistenceModel } from "./models.js";
import { CrashRunError, type CrashTargetFactory } from "./record.js";
import { recoverState, runCrash } from "./run.js";
import { explainLoss, judgeState, modelStates } from "./states.js";
import { loadTrace, saveTrace } from "./trace-file.js";

export const CRASH_USAGE = `usage: smtpchaos crash run --target NAME|FILE [options]
       smtpchaos crash replay TRACE --state MODEL:N [--states N] [--target NAME|FILE] [--keep]

run: starts the target with its durable directories (queue, spool, Maildirs) on a recording file
system, sends a small workload, and records every operation on them and when each 250 after the
final dot arrived. Then, at every persistence point (each fsync, directory fsync and rename, and
right after each 250), builds the trees a power cut can leave under each persistence model,
starts the target on each distinct one, lets it recover and drain, and checks that every message
acknowledged before the crash is delivered exactly once. Needs root and FUSE (npm run setup:mtas).

replay: tries one state of a saved trace again (the replay line of each finding), printing what
the MTA delivered and why mail was lost; --keep leaves the state's instance directory in place.

models:
${MODELS.map((m) => `  ${m.name.padEnd(13)}${m.summary}`).join("\n")}

options:
  --target NAME|FILE   ${targetNames().join(", ")} (embedded by default), or a target file with durable:
  --model M[,M]        the models to try (default: all)
  --messages N         messages in the workload (default 50)
  --concurrency C      sessions at a time (default 4)
  --states N           at most N distinct states per model, taken evenly across the run when there
                       are more (default 200; replay: the run's, as its replay line says)
  --recover D          how long the MTA may take to recover and drain one state (default 30s)
  --parallel N         states recovered at a time, each its own instance (default 2)
  --timeout D          per-reply client timeout (default 30s)
  --seed S             the workload's sizes and the reorder model's samples
  --trace FILE         where to save the trace for replays (default: in ${tmpdir()})
  --out KIND[=FILE]    an output, repeatable; kinds:
${CRASH_OUTPUTS.help("                         ")}
  --json FILE          the same as --out json=FILE

exit codes: 0 no state lost or duplicated acknowledged mail, 1 findings, 2 usage error (unknown
model, a target without durable directories, no FUSE, target not startable), 3 inconclusive
(nothing acknowledged, nothing recorded), 130 interrupted (the partial report is written)`;

const OPTIONS = {
  target: { type: "string" },
  model: { type: "string" },
  messages: { type: "string", default: "50" },
  concurrency: { type: "string", default: "4" },
  states: { type: "string", default: "200" },
  recover: { type: "string", default: "30s" },
  parallel: { type: "string", default: "2" },
  timeout: { type: "string", default: "30s" },
  seed: { type: "string" },
  trace: { type: "string" },
  state: { type: "string" },
  keep: { type: "boolean" },
  out: { type: "string", multiple: true },
  json: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function models(v: string | undefined): PersistenceModel[] {
  if (v === undefined) return [...MODELS];
  const names = v.split(",").map((m) => m.trim()).filter((m) => m !== "");
  const out: PersistenceModel[] = [];
  for (const n of names) {
    const m = modelNamed(n);
    if (m === undefined) throw new UsageError(`--model: unknown model "${n}" (${MODELS.map((x) => x.name).join(", ")})`);
    out.push(m);
  }
  if (out.length === 0) throw new UsageError(`--model needs at least one model (${MODELS.map((x) => x.name).join(", ")})`);
  return out;
}

const factory = (ref: string): CrashTargetFactory => (o) => createTarget(ref, o);

export async function main(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    console.log(CRASH_USAGE);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub !== "run" && sub !== "replay") {
    console.error(`smtpchaos crash: unknown subcommand '${sub}' (run, replay)`);
    return EXIT.usage;
  }
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseCli({ args: [...rest], options: OPTIONS, allowPositionals: sub === "replay" }));
  } catch (err) {
    console.error(`smtpchaos crash ${sub}: ${(err as Error).message}`);
    return EXIT.usage;
  }
  if (values.help === true) {
    console.log(CRASH_USAGE);
    return EXIT.ok;
  }
  try {
    return sub === "run" ? await run(values) : await replay(values, positionals);
  } catch (err) {
    return reportUserError(err, `smtpchaos crash ${sub}`);
  }
}

type Values = Record<string, string | boolean | string[] | undefined>;

async function run(values: Values): Promise<number> {
  const ref = (values.target as string | undefined) ?? "embedded";
  const chosen = models(values.model as string | undefined);
  const messages = parseCount(values.messages as string, "--messages");
  const concurrency = parseCount(values.concurrency as string, "--concurrency");
  const maxStates = parseCount(values.states as string, "--states");
  const recoverMs = parseDurationFlag(values.recover as string, "--recover");
  const parallel = parseCount(values.parallel as string, "--parallel");
  const timeoutMs = parseDurationFlag(values.timeout as string, "--timeout");
  if (messages < 1 || concurrency < 1 || maxStates < 1 || parallel < 1) throw new UsageError("--messages, --concurrency, --states and --parallel must be at least 1");
  const seed = values.seed !== undefined ? parseSeed(values.seed as string) : randomSeed();
  const outputs = CRASH_OUTPUTS.choose({ out: values.out as string[] | undefined, aliases: { json: values.json as string | undefined } });
  const tracePath = (values.trace as string | undefined) ?? join(tmpdir(), `smtpchaos-crash-${ref.replace(/[^A-Za-z0-9_-]+/g, "_")}-${seed}.trace.json`);
  const interrupts = onInterrupt({ tool: "smtpchaos crash run", first: "abandoning the states in flight (they count as not tried), then reporting" });
  const tty = process.stderr.isTTY === true;
  const say = (line: string): void => void process.stderr.write(`${tty ? "\r\x1b[K" : ""}${line}\n`);
  let report;
  try {
    report = await runCrash({
      createTarget: factory(ref),
      targetRef: ref,
      models: chosen,
      workload: { messages, concurrency, seed, timeoutMs, drainMs: recoverMs },
      maxStates,
      recoverMs,
      parallel,
      saveTraceTo: async (trace) => {
        await saveTrace(tracePath, { target: ref, seed, trace });
        return tracePath;
      },
      signal: interrupts.signal,
      onProgress: (p) => {
        if (p.phase === "recording") say(`crash run: ${p.target}, seed ${seed}: recording ${messages} messages, ${concurrency} at a time`);
        else if (p.phase === "recorded") say(`crash run: ${p.ops} operations recorded, ${p.accepted} of ${p.sent} messages acknowledged`);
        else if (p.phase === "states") say(`crash run: ${p.model}: ${p.crashPoints} crash points, ${p.states} distinct states`);
        else if (tty) process.stderr.write(`\rcrash run: state ${p.done}/${p.total}\x1b[K`);
        else if (p.done % 25 === 0) say(`crash run: state ${p.done}/${p.total}`);
      },
    });
  } finally {
    interrupts.off();
  }
  if (tty) process.stderr.write("\n");
  const written = await outputs.finish(report, "smtpchaos crash run");
  if (report.interrupted) return EXIT.interrupted;
  if (report.verdict === "findings") return EXIT.failures;
  if (!written) return EXIT.usage;
  return report.verdict === "inconclusive" ? EXIT.inconclusive : EXIT.ok;
}

async function replay(values: Values, positionals: string[]): Promise<number> {
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new UsageError("replay takes one trace file (the path a crash run printed)");
  const ref = values.state as string | undefined;
  const m = ref === undefined ? null : /^([a-z0-9-]+):(\d+)$/.exec(ref);
  if (m === null) throw new UsageError("--state MODEL:N is required (e.g. --state posix:3, from a finding's replay line)");
  const model = modelNamed(m[1] as string);
  if (model === undefined) throw new UsageError(`--state: unknown model "${m[1]}" (${MODELS.map((x) => x.name).join(", ")})`);
  const n = Number(m[2]);
  const saved = await loadTrace(file);
  const targetRef = (values.target as string | undefined) ?? saved.target;
  const make = factory(targetRef);
  const why = make({}).unavailable?.() ?? null;
  if (why !== null) throw new CrashRunError(why);
  const state = modelStates(saved.trace, model, saved.seed, parseCount(values.states as string, "--states")).states[n - 1];
  if (state === undefined) throw new UsageError(`--state ${ref}: the trace has fewer ${model.name} states`);
  const kept: string[] = [];
  const r = await recoverState(make, saved.trace, state, parseDurationFlag(values.recover as string, "--recover"), values.keep === true ? { keep: (d) => kept.push(d) } : {});
  const v = judgeState(saved.trace, state, r);
  console.log(`crash replay: ${targetRef}, state ${ref} (crash ${state.point.label}): ${v.acked} acknowledged before the crash`);
  if (v.startError !== null) console.log(`  the MTA did not start: ${v.startError}`);
  console.log(`  lost: ${v.lost.length === 0 ? "none" : v.lost.join(", ")}`);
  for (const id of v.lost.slice(0, 5)) for (const e of explainLoss(saved.trace, state, model, id)) console.log(`    ${id}: ${e}`);
  if (v.stuck.length > 0) console.log(`  still queued: ${v.stuck.join(", ")}`);
  console.log(`  duplicates: ${v.duplicates.length === 0 ? "none" : v.duplicates.map((d) => `${d.id} x${d.copies}`).join(", ")}`);
  if (kept.length > 0) console.log(`  instance directory kept: ${kept[0]}`);
  return v.lost.length > 0 || v.duplicates.length > 0 || v.startError !== null ? EXIT.failures : EXIT.ok;
}
