// `monkey sweep`: discover every failure the toolkit can inject into a target (a profiling pass
// of a few transactions: each call the MTA makes per role, call site and SMTP phase), then inject
// each one exactly once into its own transaction of one continuous flow, judged by the oracle
// and the ledger as `monkey run` judges its sessions. The run is `monkey run`'s (runMonkey): its
// target, layers, flood, drain, restart and reconcile; the sweep only decides what each
// transaction arms. A crash ends a segment: the target is restarted and the sweep goes on with
// the next failure. Every failure that found something is tried again on a fresh instance.
import { UserError } from "../../common/errors.js";
import type { FaultSurface, CallProfile } from "../surface.js";
import type { Injector } from "../injector.js";
import type { JudgedOutcome, SessionRecord, Verdict } from "../oracle.js";
import { PlanController } from "../controller.js";
import { LEDGER_FINDINGS, LEDGER_FINDING_TEXT, type LedgerReport } from "../ledger.js";
import { runMonkey, type MonkeyReport, type MonkeyTarget } from "../run.js";
import { validatePlan, callSiteText, type CallSiteId } from "../plan.js";
import type { Seed } from "../../common/rng.js";
import type { TargetExtras } from "../targets.js";
import { failureIds, failuresOf, globMatcher, type CallSite, type FailureChoice, type FailureId } from "./failures.js";
import { hashAt, roleAndCall, sitesFrom, type ProfiledCall } from "./sites.js";
import { SweepTraffic, type SweepTask, type TaskResult } from "./driver.js";
import { preciseNow, SWEEP_PHASES, type PhaseTimeline, type SweepPhase } from "./phases.js";
import { buildMatrix, type MatrixRow } from "./matrix.js";
import { replayFlags, replayScript } from "./replay.js";
import { describePoints } from "../layers/registry.js";

export class SweepError extends UserError {}

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
  /**
   * pairs (Filibuster's pruning): after the single failures, a second failure at the sites the MTA
   * reached while a first one was in effect, when the first left its transaction going (accepted)
   */
  pairs?: boolean;
  signal?: AbortSignal;
  onStage?: (text: string) => void;
  onProgress?: (done: number, total: number, current: string) => void;
}

/** Findings tried again on a fresh instance at most (each costs a start of the target). */
const MAX_CONFIRMATIONS = 20;

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
  session: JudgedOutcome | null;
  findings: string[];
  /** tried again on a fresh instance: whether something was found again (null: not tried) */
  confirmed: boolean | null;
  /** why it was not reached or not run */
  reason: string | null;
  /** `monkey run` flags that fail the same site the same way */
  replay: string;
  /** an smtpscript test-case that replays it, where the phase allows one (null: connect, banner, kills) */
  script: string | null;
  /** the last lines of its transaction, when it found something */
  transcript: string[];
  /** a pair: the failure ID injected first (this result's own fields are the second's) */
  first?: string;
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
  /** --pairs: each a first failure's id and a second one's, injected into one transaction */
  pairs: FailureResult[];
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

/** The profile of one running target: every call its hooks ask about, and what the syscall mechanism recorded (calls no fault can target counted into `ineligible`). */
function profiler(injector: Injector, surface: FaultSurface | null, ineligible: Map<string, number>, discovering: () => boolean): () => () => ProfiledCall[] {
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
        if (discovering()) for (const [what, n] of Object.entries(p.ineligible)) ineligible.set(what, (ineligible.get(what) ?? 0) + n);
      }
      return calls;
    };
  };
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
    for (const x of sites) depthOf.set(`${x.point}|${x.phase}`, x.stack?.depth ?? null);
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
  /** the stack depth discovery told each point's sites apart by, per phase (null: not at all) */
  const depthOf = new Map<string, CallSiteId["depth"] | null>();
  /** --pairs: what each single failure's transaction reached once it was armed, and the pairs to inject */
  const watched = new Map<string, ProfiledCall[]>();
  let pairQueue: Array<{ first: FailureId; then: FailureId; id: string }> | null = null;
  const pairsDone = new Map<string, Judged>();
  const pairList: Array<{ first: FailureId; then: FailureId; id: string }> = [];
  /** a finding or a wedged MTA: the segment ends and a fresh instance goes on with the next failure */
  let restartWanted = false;
  /** singles still queued (or not yet discovered), or pairs not yet built or run */
  const workLeft = (): boolean => ids === null || queue.length > 0 || (o.pairs === true && (pairQueue?.length ?? 1) > 0);
  const nextTask = (): SweepTask | null => {
    if (restartWanted || o.signal?.aborted === true || Date.now() >= deadline) return null;
    if (ids === null && timelines.length < profileN) return { kind: "profile" };
    if (ids === null) {
      ids = discover();
      queue.push(...ids);
      total = ids.length;
    }
    const f = queue.shift();
    if (f === undefined) {
      if (o.pairs !== true) return null;
      if (pairQueue === null) {
        pairQueue = pairsOf(ids, done, watched, depthOf);
        pairList.push(...pairQueue);
        stage(`pairs: ${pairQueue.length} second failures at sites reached while a first one was in effect`);
      }
      const p = pairQueue.shift();
      if (p === undefined) return null;
      o.onProgress?.(pairsDone.size, pairList.length, p.id);
      return { kind: "inject", failure: p.first, then: p.then };
    }
    attempts.set(f.id, (attempts.get(f.id) ?? 0) + 1);
    o.onProgress?.(done.size, total, f.id);
    return { kind: "inject", failure: f, ...(o.pairs === true ? { watch: true } : {}) };
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
      if (result.task.then !== undefined) {
        pairsDone.set(`${f.id} + ${result.task.then.id}`, last);
        return;
      }
      done.set(f.id, last);
      if (result.task.watch === true) watched.set(f.id, result.calls);
      if (result.wedged !== null) {
        restartWanted = true;
        stage(`after ${f.id} the target no longer answers its control interface (${result.wedged}): restarting it`);
      }
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
          // what the MTA does that no fault can target is counted while discovering, not while watching pairs
          profile: profiler(injector, surface, ineligible, () => ids === null),
          deliveryWaitMs: o.deliveryWaitMs ?? 10_000,
        });
      },
      onSession: (rec, v) => {
        const j = last as Judged | null;
        if (j === null || j.rec !== null) return;
        j.rec = rec;
        j.verdict = v;
        // an MTA that just misbehaved (a hang, a close without reply) may stay broken: the next
        // failure gets a fresh instance, or it would be charged with this one's aftermath
        const t = j.result.task;
        if (v.finding !== null && v.finding !== "crash" && t.kind === "inject" && !t.failure.site.point.startsWith("kill.")) {
          restartWanted = true;
          stage(`${t.failure.id} found something (${v.finding}): restarting the target before the next failure`);
        }
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
    // a crash, a wedged MTA or a finding: a fresh instance goes on with the next failure
    const restart = restartWanted;
    restartWanted = false;
    if ((s.report.crash === null && !restart) || !workLeft()) break;
    if (s.report.crash !== null) stage(`the target crashed (${s.report.crash.description}): restarting it and going on with the next failure`);
  }
  if (ids === null) throw new SweepError("the sweep ended before its profile did (budget or interrupt): nothing was discovered");
  const chosen: FailureId[] = ids;
  if (chosen.length === 0) throw new SweepError(`nothing to sweep: ${profiled.length === 0 ? "the profile saw no injectable call (is the target's syscall supervisor installed? npm run setup:mtas)" : "no discovered failure matches --points/--phases"}`);

  const results = chosen.map((f) => resultOf(f, done.get(f.id) ?? null, segments, o));
  // Confirm on a fresh instance: the same failure, alone, must find something again.
  if (o.confirm !== false) {
    // the quiet findings first (a lost message, a 5xx, a hang): a crash confirms itself loudly
    const quiet = (r: FailureResult): number => (r.findings.every((x) => x.startsWith("crash")) ? 1 : 0);
    for (const r of results.filter((x) => x.outcome === "findings").sort((a, b) => quiet(a) - quiet(b)).slice(0, MAX_CONFIRMATIONS)) {
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
  const pairs = pairList.map((p) => ({ ...resultOf(p.then, pairsDone.get(p.id) ?? null, segments, o, p.first), id: p.id, first: p.first.id }));
  const interrupted = o.signal?.aborted === true;
  const notReached = results.filter((r) => r.outcome === "not-reached" || r.outcome === "not-run");
  const findings = [...results, ...pairs].filter((r) => r.outcome === "findings");
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
    pairs,
    matrix: buildMatrix(results),
    notInjectable: [...ineligible].map(([what, calls]) => ({ what, calls, reason: what === "write" || what === "read" || what === "sendfile" ? "on client sockets, files or the terminal: only the MTA's own channels (pipes, unix sockets) are injectable, a client's own connection is the network's (net.*)" : "not eligible" })),
    instances,
    transactions,
    verdict: interrupted ? "interrupted" : findings.length > 0 ? "findings" : notReached.length > 0 ? "inconclusive" : "pass",
    notes,
  };
}

/** Second failures per first one at most (the first failure type of each site reached while it was in effect). */
const PAIRS_PER_FAILURE = 8;

/**
 * The pairs worth injecting (Filibuster): for each single failure that fired and left its
 * transaction going (the message accepted), a second failure at each site its transaction reached
 * from the moment it was armed, in that phase or a later one, named at the depth discovery told
 * that point's sites apart by (2 for a site only the recovery path reaches). Kills and a second
 * failure of the same point in the same phase (one plan entry per point) are left out.
 */
function pairsOf(ids: readonly FailureId[], done: ReadonlyMap<string, Judged>, watched: ReadonlyMap<string, ProfiledCall[]>, depthOf: ReadonlyMap<string, CallSiteId["depth"] | null>): Array<{ first: FailureId; then: FailureId; id: string }> {
  const out: Array<{ first: FailureId; then: FailureId; id: string }> = [];
  for (const f of ids) {
    const j = done.get(f.id);
    if (f.site.point.startsWith("kill.") || j === undefined || j.result.fired !== true || j.verdict?.accepted !== true || j.verdict.finding !== null) continue;
    const seen = new Map<string, CallSite>();
    for (const c of watched.get(f.id) ?? []) {
      const phase = j.result.timeline.phaseAt(c.at);
      if (phase === null || SWEEP_PHASES.indexOf(phase) < SWEEP_PHASES.indexOf(f.site.phase)) continue;
      if (c.point === f.site.point && phase === f.site.phase) continue;
      const { role, call } = roleAndCall(c.point);
      const known = depthOf.get(`${c.point}|${phase}`);
      const depth = known === undefined ? 2 : known;
      const hash = depth === null ? 0 : hashAt(c.stacks, depth);
      const stack = depth === null || hash === 0 ? null : { hash, depth };
      const key = `${c.point}|${phase}|${stack === null ? "" : callSiteText(stack)}`;
      if (!seen.has(key)) seen.set(key, { point: c.point, role, call, stack, phase, calls: 1 });
    }
    for (const site of [...seen.values()].slice(0, PAIRS_PER_FAILURE)) {
      const then = failuresOf(site)[0];
      if (then !== undefined) out.push({ first: f, then, id: `${f.id} + ${then.id}` });
    }
  }
  return out;
}

/** What a sweep says of the points it cannot discover call by call. */
function notInjectableNotes(points: readonly string[]): string[] {
  const out: string[] = [];
  const fiu = points.filter((p) => /^(queue|alloc|deliver|relay)\./.test(p) || p === "alloc");
  if (fiu.length > 0 && points.some((p) => p.startsWith("sys."))) out.push(`${fiu.join(", ")} (libfiu) are not swept: libfiu keeps no record of the calls it sees, so their sites cannot be discovered; the same system calls are swept as sys.<role>.<call>, call site by call site`);
  return out;
}

/** The ledger classes a message fell in, from the final reconcile of its segment. */
function ledgerFindings(id: string | null, report: MonkeyReport): string[] {
  if (id === null) return [];
  const l: LedgerReport | null = report.ledgerAfterRestart ?? report.ledger;
  if (l === null) return [];
  const out: string[] = [];
  for (const k of LEDGER_FINDINGS) {
    const ids: unknown[] = l.samples[k];
    if (ids.some((x) => (typeof x === "string" ? x : (x as { id: string }).id) === id)) out.push(`ledger: ${k} (${LEDGER_FINDING_TEXT[k]})`);
  }
  return out;
}

function resultOf(f: FailureId, j: Judged | null, segments: readonly Segment[], o: SweepOptions, first?: FailureId): FailureResult {
  const base = {
    id: f.id,
    point: f.site.point,
    role: f.site.role,
    call: f.site.call,
    stack: f.site.stack === null ? null : callSiteText(f.site.stack),
    phase: f.site.phase,
    failure: f.failure,
    confirmed: null,
    replay: `smtpchaos monkey run --target ${o.targetRef} ${replayFlags(...(first !== undefined ? [first, f] : [f]))} --duration 30s --seed ${o.seed}`,
    script: null as string | null,
  };
  if (j === null) return { ...base, injected: false, outcome: "not-run", session: null, findings: [], reason: o.signal?.aborted === true ? "interrupted before it ran" : "--budget ran out before it ran", transcript: [] };
  const seg = segments.find((s) => s.judged.includes(j)) as Segment;
  const findings: string[] = [];
  // a kill that took the whole MTA down (its only process, or a master that does not survive a
  // child) is the crash the sweep caused: what counts is that nothing acknowledged was lost
  const killed = f.site.point.startsWith("kill.");
  if (j.verdict?.finding != null && !(killed && j.verdict.finding === "crash")) findings.push(`${j.verdict.finding}${j.verdict.step !== null ? ` at ${j.verdict.step}` : ""}: ${j.verdict.detail}`);
  findings.push(...ledgerFindings(j.rec?.messageId ?? null, seg.report));
  if (j.result.wedged !== null) findings.push(`wedged: after this failure the MTA no longer answers its control interface (${j.result.wedged})`);
  const crash = seg.report.crash;
  // the crash belongs to the last transaction that started before it
  const lastBefore = crash === null ? null : [...seg.judged].reverse().find((x) => x.startedAt <= Date.parse(crash.at));
  if (crash !== null && lastBefore === j && !killed) findings.push(`crash: ${crash.description}${crash.fatal !== null ? ` (${crash.fatal})` : ""}`);
  // a pair counts as injected only when both of its failures fired
  const injected = j.result.fired === true && (first === undefined || j.result.firedThen === true);
  const transcript = findings.length > 0 ? j.result.transcript : [];
  const outcome: FailureOutcome = findings.length > 0 ? "findings" : injected ? "graceful" : "not-reached";
  const reason =
    outcome !== "not-reached" ? null
    : j.result.armError !== null ? `could not be armed: ${j.result.armError}`
    : first !== undefined ? `${j.result.fired === true ? "the second" : "the first"} failure's call site was not reached (a pair is tried once)`
    : `armed in ${f.site.phase} ${MAX_ATTEMPTS} times, its call site was never reached then: the MTA took another path, or the call races the phase's boundary`;
  return { ...base, ...(outcome === "findings" && first === undefined ? { script: replayScript(f, j.verdict?.dotResult ?? "not-sent") } : {}), injected, outcome, session: j.verdict?.outcome ?? null, findings, reason, transcript };
}
