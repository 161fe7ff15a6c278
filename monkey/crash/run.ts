// `smtpchaos crash run`: record a workload on the target's durable directories, build the crash
// states of each persistence model, start the target on each distinct state (once, whatever
// model produced it), let it recover and drain, and check the ledger's promise: everything
// acknowledged before the crash is delivered exactly once.
import { rm } from "node:fs/promises";
import { deliveredIdsOf, type Target } from "../../targets/target.js";
import { recfsUnavailable } from "../../targets/process/recfs.js";
import type { PersistenceModel } from "./models.js";
import { CrashRunError, drain, instanceDir, recordRun, type CrashTargetFactory, type Workload } from "./record.js";
import { explainLoss, judgeState, modelStates, stateHasFinding, stateRef, type CrashState, type Recovery, type StateVerdict } from "./states.js";
import { crashTree, materialize } from "./tree.js";
import type { Trace } from "./trace.js";

export interface CrashRunOptions {
  createTarget: CrashTargetFactory;
  /** how the user named the target (replay commands) */
  targetRef: string;
  models: readonly PersistenceModel[];
  workload: Workload;
  /** at most this many distinct states per model */
  maxStates: number;
  /** how long an MTA may take to recover and drain one state */
  recoverMs: number;
  /** states recovered at a time, each its own instance (default 1) */
  parallel?: number;
  /** where the trace is saved for replays (a file path); null: not saved */
  saveTraceTo: ((trace: Trace) => Promise<string>) | null;
  onProgress?: (p: CrashProgress) => void;
  signal?: AbortSignal;
}

export type CrashProgress =
  | { phase: "recording"; target: string }
  | { phase: "recorded"; ops: number; accepted: number; sent: number }
  | { phase: "states"; model: string; crashPoints: number; states: number }
  | { phase: "state"; done: number; total: number };

export interface CrashFinding {
  /** MODEL:N, what `crash replay --state` takes */
  state: string;
  crashPoint: string;
  /** crash points leaving this same state */
  points: number;
  acked: number;
  lost: string[];
  duplicates: Array<{ id: string; copies: number }>;
  startError: string | null;
  /** per lost message (the first few): the operations that were not durable, and why */
  explanation: string[];
  replay: string;
}

export interface CrashModelReport {
  name: string;
  summary: string;
  crashPoints: number;
  states: number;
  /** states tried (fewer than states when interrupted) */
  tried: number;
  truncated: boolean;
  /** distinct states the model leaves (more than states when --states bounds them) */
  distinct: number;
  statesLosingMail: number;
  /** distinct acknowledged messages lost in some state */
  lostMessages: number;
  /** distinct messages delivered more than once in some state */
  duplicates: number;
  statesNotStarting: number;
  findings: CrashFinding[];
}

export type CrashVerdict = "pass" | "findings" | "inconclusive";

export interface CrashReport {
  tool: "crash";
  target: string;
  seed: number;
  messages: number;
  concurrency: number;
  sent: number;
  accepted: number;
  /** operations recorded on the durable directories */
  ops: number;
  durable: string[];
  models: CrashModelReport[];
  verdict: CrashVerdict;
  /** why the verdict is inconclusive, or what limited the run */
  reasons: string[];
  interrupted: boolean;
  trace: string | null;
  durationMs: number;
}

/** Why a target cannot take part in a crash run, or null. */
export function crashUnavailable(target: Target): string | null {
  const fs = recfsUnavailable();
  if (fs !== null) return fs;
  if ((target.durableDirs?.() ?? []).length === 0) return `${target.name} names no durable directories (a target file needs durable: [queue, Maildir, ...])`;
  return target.unavailable?.() ?? null;
}

/**
 * Starts the target on one state's directory tree and reports what it delivered once it drained.
 * An abort of `o.signal` ends the drain at once: that recovery is then partial, not to be judged.
 */
export async function recoverState(make: CrashTargetFactory, trace: Trace, state: CrashState, recoverMs: number, o: { keep?: (dir: string) => void; signal?: AbortSignal } = {}): Promise<Recovery> {
  const dir = await instanceDir();
  const target = make({ dir });
  try {
    await materialize(crashTree(trace, state.point.k, state.survived), dir);
    try {
      await target.start();
    } catch (err) {
      return { startError: (err as Error).message.split("\n").slice(0, 6).join("\n"), copies: new Map(), bounced: new Set(), queued: null, queueSize: 0 };
    }
    await drain(target, recoverMs, o.signal);
    const ids = await deliveredIdsOf(target);
    const copies = new Map<string, number>();
    for (const id of ids.delivered) if (id !== null) copies.set(id, (copies.get(id) ?? 0) + 1);
    const queued = (await target.queueIds?.().catch(() => null)) ?? null;
    const queueSize = target.queueObservable === false ? 0 : await target.queueSize().catch(() => 0);
    return { startError: null, copies, bounced: new Set(ids.bounced.filter((x): x is string => x !== null)), queued: queued === null ? null : new Set(queued), queueSize };
  } finally {
    await target.stop().catch(() => {});
    if (o.keep !== undefined) o.keep(dir);
    else await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

export function replayCommand(o: { targetRef: string; trace: string | null; state: CrashState; maxStates: number }): string {
  return `smtpchaos crash replay ${o.trace ?? "TRACE"} --state ${stateRef(o.state)} --states ${o.maxStates} --target ${o.targetRef}`;
}

function finding(trace: Trace, model: PersistenceModel, s: CrashState, v: StateVerdict, replay: string): CrashFinding {
  const explanation = v.lost.slice(0, 3).flatMap((id) => explainLoss(trace, s, model, id, 2).map((line) => `${id}: ${line}`));
  return { state: stateRef(s), crashPoint: s.point.label, points: s.points, acked: v.acked, lost: v.lost, duplicates: v.duplicates, startError: v.startError, explanation, replay };
}

export async function runCrash(o: CrashRunOptions): Promise<CrashReport> {
  const t0 = Date.now();
  const probe = o.createTarget({});
  const why = crashUnavailable(probe);
  if (why !== null) throw new CrashRunError(why);
  o.onProgress?.({ phase: "recording", target: probe.name });
  const trace = await recordRun(o.createTarget, o.workload, o.signal);
  o.onProgress?.({ phase: "recorded", ops: trace.ops.length, accepted: trace.acks.size, sent: trace.sent.size });
  const tracePath = o.saveTraceTo === null ? null : await o.saveTraceTo(trace);
  const perModel = o.models.map((m) => ({ ...modelStates(trace, m, o.workload.seed, o.maxStates), model: m }));
  for (const p of perModel) o.onProgress?.({ phase: "states", model: p.model.name, crashPoints: p.crashPoints, states: p.states.length });
  // identical trees are tried once, whichever model produced them, `parallel` MTAs at a time
  const unique = new Map<string, CrashState>();
  for (const p of perModel) for (const s of p.states) if (!unique.has(s.hash)) unique.set(s.hash, s);
  const recovered = new Map<string, Recovery>();
  const queue = [...unique.values()];
  // a function, not the property: TypeScript would take it as unchanged across the await below
  const aborted = (): boolean => o.signal?.aborted === true;
  const worker = async (): Promise<void> => {
    for (let s = queue.shift(); s !== undefined && !aborted(); s = queue.shift()) {
      const got = await recoverState(o.createTarget, trace, s, o.recoverMs, { signal: o.signal });
      // a drain cut short by the interrupt would read as loss: the state counts as not tried
      if (aborted()) break;
      recovered.set(s.hash, got);
      o.onProgress?.({ phase: "state", done: recovered.size, total: unique.size });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.parallel ?? 1) }, worker));
  const interrupted = recovered.size < unique.size;
  const reports: CrashModelReport[] = [];
  for (const p of perModel) {
    const r: CrashModelReport = { name: p.model.name, summary: p.model.summary, crashPoints: p.crashPoints, states: p.states.length, tried: 0, truncated: p.truncated, distinct: p.distinct, statesLosingMail: 0, lostMessages: 0, duplicates: 0, statesNotStarting: 0, findings: [] };
    const lost = new Set<string>();
    const dups = new Set<string>();
    for (const s of p.states) {
      const got = recovered.get(s.hash);
      if (got === undefined) continue;
      r.tried++;
      const v = judgeState(trace, s, got);
      if (v.lost.length > 0) r.statesLosingMail++;
      if (v.startError !== null) r.statesNotStarting++;
      for (const id of v.lost) lost.add(id);
      for (const d of v.duplicates) dups.add(d.id);
      if (stateHasFinding(v)) r.findings.push(finding(trace, p.model, s, v, replayCommand({ targetRef: o.targetRef, trace: tracePath, state: s, maxStates: o.maxStates })));
    }
    r.lostMessages = lost.size;
    r.duplicates = dups.size;
    reports.push(r);
  }
  const reasons: string[] = [];
  if (trace.acks.size === 0) reasons.push("no message was acknowledged: there was nothing to lose");
  if (trace.ops.length === 0) reasons.push(`nothing was recorded on the durable directories (${trace.durable.join(", ")}): the MTA keeps its queue elsewhere`);
  if (interrupted) reasons.push("interrupted before every state was tried");
  for (const m of reports) if (m.truncated) reasons.push(`${m.name}: ${m.distinct} distinct states, ${m.states} of them tried (--states), taken evenly across the run`);
  const anyFinding = reports.some((m) => m.findings.length > 0);
  const inconclusive = trace.acks.size === 0 || trace.ops.length === 0 || interrupted;
  return {
    tool: "crash",
    target: o.targetRef,
    seed: o.workload.seed,
    messages: o.workload.messages,
    concurrency: o.workload.concurrency,
    sent: trace.sent.size,
    accepted: trace.acks.size,
    ops: trace.ops.length,
    durable: trace.durable,
    models: reports,
    verdict: anyFinding ? "findings" : inconclusive ? "inconclusive" : "pass",
    reasons,
    interrupted,
    trace: tracePath,
    durationMs: Date.now() - t0,
  };
}
