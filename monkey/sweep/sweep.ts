// `monkey sweep`: discover every failure the toolkit can inject into a target (a profiling pass
// of a few transactions: each call the MTA makes per role, call site and SMTP phase), then inject
// each one exactly once into its own transaction of one continuous flow, judged by the oracle
// and the ledger as `monkey run` judges its sessions. The run is `monkey run`'s (runMonkey): its
// target, layers, flood, drain, restart and reconcile; the sweep only decides what each
// transaction arms. A crash ends a segment: the target is restarted and the sweep goes on with
// the next failure. Every failure that found something is tried again on a fresh instance.
import type { FaultSurface, CallProfile } from "../surface.js";
import type { Injector } from "../injector.js";
import type { Outcome, SessionRecord, Verdict } from "../oracle.js";
import { PlanController } from "../controller.js";
import { LEDGER_FINDINGS, type LedgerReport } from "../ledger.js";
import { runMonkey, type MonkeyReport, type MonkeyTarget } from "../run.js";
import { validatePlan, callSiteText } from "../plan.js";
import type { Seed } from "../rng.js";
import type { TargetExtras } from "../targets.js";
import { failureIds, globMatcher, type FailureChoice, type FailureId } from "./failures.js";
import { sitesFrom, type ProfiledCall } from "./sites.js";
import { SweepTraffic, type SweepTask, type TaskResult } from "./driver.js";
import { preciseNow, type PhaseTimeline, type SweepPhase } from "./phases.js";
import { buildMatrix, type MatrixRow } from "./matrix.js";
import { describePoints } from "../layers/registry.js";

export class SweepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SweepError";
  }
}

export interface SweepOptions {
  createTarget: (extra: TargetExtras) => MonkeyTarget;
  /** how the target was named (replay lines) */
  targetRef: string;
  seed: Seed;
  /** point globs to sweep (sys.queue.*, kill.*); null: every point */
  points: readonly string[] | null;
  phases: readonly SweepPhase[] | null;
  choice: FailureChoice;
  /** the whole sweep stops starting transactions after this long */
  budgetMs: number;
  /** profiled transactions before the failures (default 3) */
  profileTransactions?: number;
  timeoutMs: number;
  /** the longest wait for the queue to empty after each transaction (default 10 s) */
  deliveryWaitMs?: number;
  /** try every failure that found something again on a fresh instance (default true) */
  confirm?: boolean;
  signal?: AbortSignal;
  onStage?: (text: string) => void;
  onProgress?: (done: number, total: number, current: string) => void;
}

/** Tries of a failure whose site was not reached when armed (a call racing a phase boundary may come the next time). */
const MAX_ATTEMPTS = 3;

export type FailureOutcome = "graceful" | "findings" | "not-reached" | "not-run";

export interface FailureResult {
  id: string;
  point: string;
  role: string | null;
  call: string;
  /** the call site's hash, as `stack=` takes it; null where the mechanism does not tell sites apart */
  stack: string | null;
  phase: SweepPhase;
  failure: string;
  injected: boolean;
  outcome: FailureOutcome;
  /** the oracle's outcome of its transaction (null: not run) */
  session: Outcome | null;
  findings: string[];
  /** tried again on a fresh instance: whether something was found again (null: not tried) */
  confirmed: boolean | null;
  /** why it was not reached or not run */
  reason: string | null;
  /** `monkey run` flags that fail the same site the same way */
  replay: string;
  /** the last lines of its transaction, when it found something */
  transcript: string[];
}

export interface SweepReport {
  kind: "sweep";
  target: string;
  seed: Seed;
  startedAt: string;
  durationMs: number;
  budgetMs: number;
  interrupted: boolean;
  discovered: { transactions: number; calls: number; sites: number; failureIds: number };
  failureIds: FailureResult[];
  matrix: MatrixRow[];
  /** calls the MTA made that no fault could target, and why */
  notInjectable: Array<{ what: string; calls: number; reason: string }>;
  /** times the target was started (1 + restarts after crashes + fresh instances for confirmations) */
  instances: number;
  /** transactions sent: profiled, injected (retries included) and confirmations */
  transactions: number;
  verdict: "pass" | "findings" | "inconclusive" | "interrupted";
  notes: string[];
}

/** One transaction's task, what it did, and how the oracle judged it. */
interface Judged {
  result: TaskResult;
  rec: SessionRecord | null;
  verdict: Verdict | null;
  startedAt: number;
}

interface Segment {
  judged: Judged[];
  report: MonkeyReport;
}

/** The profile of one running target: every call its hooks ask about, and what the syscall mechanism recorded. */
function profiler(injector: Injector, surface: FaultSurface | null, ineligible: Map<string, number>): () => () => ProfiledCall[] {
  const hooks = new Set((surface?.points() ?? []).filter((p) => !(surface?.decidedInside?.() ?? []).includes(p) && !/^(kill|pause)\./.test(p)));
  return () => {
    const calls: ProfiledCall[] = [];
    // a hook asks in this process, at the moment of the call: stamped here, precisely
    const off = injector.onDecide((point) => {
      if (hooks.has(point)) calls.push({ at: preciseNow(), point, stacks: [] });
    });
    const stop = surface?.profile?.() ?? null;
    return () => {
      off();
      const p: CallProfile | null = stop?.() ?? null;
      if (p !== null) {
        calls.push(...p.calls);
        for (const [what, n] of Object.entries(p.ineligible)) ineligible.set(what, (ineligible.get(what) ?? 0) + n);
      }
      return calls;
    };
  };
}

/** `monkey run` flags that fail the site of `f` the same way (the first call of that site fails). */
export function replayFlags(f: FailureId): string {
  const kv = Object.entries(f.settings).map(([k, v]) => `${k}=${String(v)}`).join(",");
  return `--fault '${f.site.point}:${kv}' --concurrency 1`;
}

export async function runSweep(o: SweepOptions): Promise<SweepReport> {
  const stage = o.onStage ?? (() => {});
  const startedAt = Date.now();
  const deadline = startedAt + o.budgetMs;
  const notes: string[] = [];
  const ineligible = new Map<string, number>();
  const profileN = o.profileTransactions ?? 3;
  const wantPoint = o.points === null ? () => true : globMatcher(o.points);
  let ids: FailureId[] | null = null;
  let sitesFound = 0;
  let callsSeen = 0;
  const timelines: PhaseTimeline[] = [];
  const profiled: ProfiledCall[] = [];
  let surfacePoints: string[] = [];
  let sysProfiled = false;
  const done = new Map<string, Judged>();
  const attempts = new Map<string, number>();
  let instances = 0;
  let transactions = 0;

  /** Discovery is over: the failures to inject, in their stable order. */
  const discover = (): FailureId[] => {
    const killPoints = surfacePoints.filter((p) => p.startsWith("kill."));
    const { sites, racy, unstable } = sitesFrom(profiled, timelines, { killPoints, sysProfiled });
    sitesFound = sites.length;
    if (racy > 0) notes.push(`${racy} point(s) were seen in a phase in fewer than half of the ${timelines.length} profiled transactions (work on the MTA's own schedule racing the phase boundary): each is swept in the phase it usually falls in`);
    if (unstable > 0) notes.push(`${unstable} point(s) made calls whose stacks hashed differently from transaction to transaction at every depth: each is swept as one site per phase (any call site)`);
    callsSeen = profiled.length;
    const chosen = failureIds(sites, o.choice).filter((f) => wantPoint(f.site.point) && (o.phases === null || o.phases.includes(f.site.phase)));
    stage(`discovered ${profiled.length} calls at ${sites.length} sites in ${timelines.length} transactions: ${chosen.length} failure IDs to inject`);
    return chosen;
  };

  // The failures left to inject; one not reached is tried again (MAX_ATTEMPTS) before it counts as such.
  const queue: FailureId[] = [];
  let total = 0;
  const nextTask = (): SweepTask | null => {
    if (o.signal?.aborted === true || Date.now() >= deadline) return null;
    if (ids === null && timelines.length < profileN) return { kind: "profile" };
    if (ids === null) {
      ids = discover();
      queue.push(...ids);
      total = ids.length;
    }
    const f = queue.shift();
    if (f === undefined) return null;
    attempts.set(f.id, (attempts.get(f.id) ?? 0) + 1);
    o.onProgress?.(done.size, total, f.id);
    return { kind: "inject", failure: f };
  };

  const segment = async (tasks: () => SweepTask | null, fresh: boolean): Promise<Segment> => {
    const judged: Judged[] = [];
    let last: Judged | null = null;
    // each transaction's result comes as it ends (the next task may depend on it), its verdict right after
    const traffic = new SweepTraffic(tasks, (result) => {
      transactions++;
      if (result.task.kind === "profile") {
        timelines.push(result.timeline);
        profiled.push(...result.calls);
        last = null;
        return;
      }
      const f = result.task.failure;
      last = { result, rec: null, verdict: null, startedAt: result.timeline.startedAt ?? Date.now() };
      judged.push(last);
      done.set(f.id, last);
      if (result.fired === false && result.armError === null && (attempts.get(f.id) ?? 0) < MAX_ATTEMPTS) queue.push(f);
    });
    instances++;
    if (fresh) stage("starting a fresh instance of the target");
    const report = await runMonkey({
      createTarget: o.createTarget,
      plan: validatePlan({ points: {} }),
      seed: o.seed,
      durationMs: Math.max(1, deadline - Date.now()),
      concurrency: 1,
      traffic,
      timeoutMs: o.timeoutMs,
      mayFire: ["*"],
      ledgerSamples: 1_000_000,
      ...(o.signal !== undefined ? { signal: o.signal } : {}),
      onStage: stage,
      onStarted: async ({ injector, surface, target, layers, assertFaultsOpen }) => {
        surfacePoints = layers.points();
        if (o.points !== null && !surfacePoints.some(wantPoint)) throw new SweepError(`nothing to sweep: ${target.name} offers no point matching ${o.points.join(", ")} (it offers ${describePoints(surfacePoints)})`);
        sysProfiled ||= surface?.profile !== undefined;
        traffic.attach({
          controller: new PlanController({ injector, surface, layers, target: target.name, guard: assertFaultsOpen }),
          injector,
          target,
          profile: profiler(injector, surface, ineligible),
          deliveryWaitMs: o.deliveryWaitMs ?? 10_000,
        });
      },
      onSession: (rec, v) => {
        const j = last as Judged | null;
        if (j === null || j.rec !== null) return;
        j.rec = rec;
        j.verdict = v;
      },
    });
    return { judged, report };
  };

  // Segments until every failure ran, the budget is spent or the run was interrupted; a crash ends one.
  const segments: Segment[] = [];
  for (;;) {
    const s = await segment(nextTask, segments.length > 0);
    segments.push(s);
    if (s.report.interrupted || o.signal?.aborted === true || Date.now() >= deadline) break;
    if (s.report.crash === null || (ids !== null && queue.length === 0)) break;
    stage(`the target crashed (${s.report.crash.description}): restarting it and going on with the next failure`);
  }
  if (ids === null) throw new SweepError("the sweep ended before its profile did (budget or interrupt): nothing was discovered");
  const chosen: FailureId[] = ids;
  if (chosen.length === 0) throw new SweepError(`nothing to sweep: ${profiled.length === 0 ? "the profile saw no injectable call (is the target's syscall supervisor installed? npm run setup:mtas)" : "no discovered failure matches --points/--phases"}`);

  const results = chosen.map((f) => resultOf(f, done.get(f.id) ?? null, segments, o));
  // Confirm on a fresh instance: the same failure, alone, must find something again.
  if (o.confirm !== false) {
    for (const r of results.filter((x) => x.outcome === "findings").slice(0, 20)) {
      if (o.signal?.aborted === true || Date.now() >= deadline) break;
      const f = chosen.find((x) => x.id === r.id) as FailureId;
      stage(`confirming ${r.id} on a fresh instance`);
      let given = false;
      const s = await segment(() => {
        if (given) return null;
        given = true;
        return { kind: "inject", failure: f };
      }, true);
      const again = resultOf(f, s.judged[0] ?? null, [s], o);
      r.confirmed = again.outcome === "findings";
    }
  }
  const interrupted = o.signal?.aborted === true;
  const notReached = results.filter((r) => r.outcome === "not-reached" || r.outcome === "not-run");
  const findings = results.filter((r) => r.outcome === "findings");
  if (notReached.length > 0) notes.push(`${notReached.length} of ${results.length} failure IDs were not injected (not reached when armed, or not run within --budget): see their reasons`);
  notes.push(...notInjectableNotes(surfacePoints));
  return {
    kind: "sweep",
    target: segments[0]?.report.target ?? o.targetRef,
    seed: o.seed,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Date.now() - startedAt,
    budgetMs: o.budgetMs,
    interrupted,
    discovered: { transactions: timelines.length, calls: callsSeen, sites: sitesFound, failureIds: chosen.length },
    failureIds: results,
    matrix: buildMatrix(results),
    notInjectable: [...ineligible].map(([what, calls]) => ({ what, calls, reason: what === "write" || what === "read" || what === "sendfile" ? "on client sockets, files or the terminal: only the MTA's own channels (pipes, unix sockets) are injectable, a client's own connection is the network's (net.*)" : "not eligible" })),
    instances,
    transactions,
    verdict: interrupted ? "interrupted" : findings.length > 0 ? "findings" : notReached.length > 0 ? "inconclusive" : "pass",
    notes,
  };
}

/** What a sweep says of the points it cannot discover call by call. */
function notInjectableNotes(points: readonly string[]): string[] {
  const out: string[] = [];
  const fiu = points.filter((p) => /^(queue|alloc|deliver|relay)\./.test(p) || p === "alloc");
  if (fiu.length > 0 && points.some((p) => p.startsWith("sys."))) out.push(`${fiu.join(", ")} (libfiu) are not swept: libfiu keeps no record of the calls it sees, so their sites cannot be discovered; the same system calls are swept as sys.<role>.<call>, call site by call site`);
  return out;
}

const LEDGER_WORDS: Record<string, string> = {
  lost: "lost: accepted (250 after the dot), never delivered, not in the queue",
  stuck: "stuck: accepted, never delivered, still in the queue after the drain",
  missing: "missing: accepted, never delivered (stuck or lost)",
  duplicates: "delivered more than once",
  deliveredAfterReject: "delivered although the dot got a 4xx/5xx",
  deliveredUnsent: "delivered although the dot was never sent",
  deliveredAndBounced: "delivered and bounced as well",
};

/** The ledger classes a message fell in, from the final reconcile of its segment. */
function ledgerFindings(id: string | null, report: MonkeyReport): string[] {
  if (id === null) return [];
  const l: LedgerReport | null = report.ledgerAfterRestart ?? report.ledger;
  if (l === null) return [];
  const out: string[] = [];
  for (const k of LEDGER_FINDINGS) {
    const ids: unknown[] = l.samples[k];
    if (ids.some((x) => (typeof x === "string" ? x : (x as { id: string }).id) === id)) out.push(`ledger: ${LEDGER_WORDS[k] ?? k}`);
  }
  return out;
}

function resultOf(f: FailureId, j: Judged | null, segments: readonly Segment[], o: SweepOptions): FailureResult {
  const base = {
    id: f.id,
    point: f.site.point,
    role: f.site.role,
    call: f.site.call,
    stack: f.site.stack === null ? null : callSiteText(f.site.stack),
    phase: f.site.phase,
    failure: f.failure,
    confirmed: null,
    replay: `smtpchaos monkey run --target ${o.targetRef} ${replayFlags(f)} --duration 30s --seed ${o.seed}`,
  };
  if (j === null) return { ...base, injected: false, outcome: "not-run", session: null, findings: [], reason: o.signal?.aborted === true ? "interrupted before it ran" : "--budget ran out before it ran", transcript: [] };
  const seg = segments.find((s) => s.judged.includes(j)) as Segment;
  const findings: string[] = [];
  // a kill that took the whole MTA down (its only process, or a master that does not survive a
  // child) is the crash the sweep caused: what counts is that nothing acknowledged was lost
  const killed = f.site.point.startsWith("kill.");
  if (j.verdict?.finding != null && !(killed && j.verdict.finding === "crash")) findings.push(`${j.verdict.finding}${j.verdict.step !== null ? ` at ${j.verdict.step}` : ""}: ${j.verdict.detail}`);
  findings.push(...ledgerFindings(j.rec?.messageId ?? null, seg.report));
  const crash = seg.report.crash;
  // the crash belongs to the last transaction that started before it
  const lastBefore = crash === null ? null : [...seg.judged].reverse().find((x) => x.startedAt <= Date.parse(crash.at));
  if (crash !== null && lastBefore === j && !killed) findings.push(`crash: ${crash.description}${crash.fatal !== null ? ` (${crash.fatal})` : ""}`);
  const injected = j.result.fired === true;
  const transcript = findings.length > 0 ? (seg.report.samples.find((s) => s.messageId !== null && s.messageId === j.rec?.messageId)?.transcript ?? "").split("\n").filter((l) => l !== "") : [];
  const outcome: FailureOutcome = findings.length > 0 ? "findings" : injected ? "graceful" : "not-reached";
  const reason = outcome !== "not-reached" ? null : j.result.armError !== null ? `could not be armed: ${j.result.armError}` : `armed in ${f.site.phase} ${MAX_ATTEMPTS} times, its call site was never reached then: the MTA took another path, or the call races the phase's boundary`;
  return { ...base, injected, outcome, session: j.verdict?.outcome ?? null, findings, reason, transcript };
}
