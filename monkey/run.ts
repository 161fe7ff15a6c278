// One monkey run: start the target with its fault surface, apply the plan, flood it with a
// continuous flow of mail while faults fire, then stop the faults, drain the queue, reconcile
// the ledger, restart the target once and reconcile again. Everything the run saw ends up in a
// MonkeyReport; an interrupted run still produces one (the partial report).
import { deliveredIdsOf, describeCrash } from "../targets/target.js";
import type { Target, CrashInfo } from "../targets/target.js";
import { Flood } from "./flood.js";
import { Injector } from "./injector.js";
import type { PointStats } from "./injector.js";
import { Ledger, ledgerFindingCount } from "./ledger.js";
import type { LedgerReport } from "./ledger.js";
import { crashContext } from "./oracle.js";
import type { FindingKind, FindingSample, JudgedOutcome, SessionRecord, Verdict } from "./oracle.js";
import { describeSpec, fitWindows } from "./plan.js";
import { formatDuration } from "../common/duration.js";
import { assertLoopback } from "../common/loopback.js";
import type { FaultPlan } from "./plan.js";
import type { Seed } from "../common/rng.js";
import type { Traffic } from "../smtp/index.js";
import type { TargetExtras } from "./targets.js";
import { TimelineRecorder } from "./timeline.js";
import type { RunTimeline } from "./timeline.js";
import type { FaultSurface } from "./surface.js";
import { LayerSet, UnsupportedPointsError } from "./layers/set.js";
import { kindOf } from "./layers/registry.js";
import { sleep } from "./layers/layer.js";
import { StatementError } from "./statement.js";
import { pause } from "../common/settle.js";
import type { SettleResult } from "../common/settle.js";
import { pointReach, unreached, type PointReach } from "./reach.js";

export { UnsupportedPointsError };

/** What the runner needs of a target beyond the Target interface. */
export interface MonkeyTarget {
  target: Target;
  surface: FaultSurface | null;
  /** false when the toolkit cannot read what the target delivered: the ledger is skipped */
  readsMailboxes?: boolean;
  /** ends the fault wiring (timers, paused processes); called before the target stops */
  close?: () => Promise<void>;
  /** a server the toolkit does not run (--host): what it can and cannot observe of it */
  unmanaged?: UnmanagedTarget;
  /** it delivers its own mail to the next hop (a target file's sink): the flood needs no recipients of the hop's domain */
  adoptsNextHop?: boolean;
}

/** What the run may know of a server the user runs (implemented by ExternalTarget). */
export interface UnmanagedTarget {
  /** false: queueSize() means nothing; deliveries are over once the mailboxes settle */
  readonly queueObservable: boolean;
  /** false: the run cannot restart it, so the restart-and-reconcile step is skipped */
  readonly restartable: boolean;
  readonly settleMs: number;
  /** waits for its mailboxes to stop changing, at most maxMs; an abort of `signal` ends the wait at once */
  settle(maxMs: number, signal?: AbortSignal): Promise<SettleResult>;
}

export interface MonkeyRunOptions {
  /** Creates (not starts) the target; `nextHop` is set when a layer needs it to relay there (nexthop.* points). */
  createTarget: (extra: TargetExtras) => MonkeyTarget;
  plan: FaultPlan;
  seed: Seed;
  durationMs: number;
  concurrency: number;
  maxSessions?: number;
  /** the flood's sessions (a storm mix); default: one transaction of a drawn shape each */
  traffic?: Traffic;
  /** on a crash: no drain, restart or reconcile; the instance directory is kept for inspection */
  stopOnCrash?: boolean;
  /** flood a target off loopback (refused otherwise, as by every CLI: a RemoteTargetError) */
  allowRemote?: boolean;
  /** keep the target's instance directory (config, queue, logs, mailboxes) after the run; the report says where */
  keep?: boolean;
  /** per-wait client timeout; a server silent for longer is a hang */
  timeoutMs?: number;
  /** one budget for everything after the flood: the drain, the restart and the drain after it (default 60 s) */
  drainTimeoutMs?: number;
  /** points a plan set later (control API) may fire: their mechanisms are attached from the start (globs: sys.*, *) */
  mayFire?: readonly string[];
  /** restart the target once after the first reconcile (default true) */
  restart?: boolean;
  /** each judged transaction, as the oracle saw it (a fault sweep pairs it with the failure it armed) */
  onSession?: (rec: SessionRecord, v: Verdict) => void;
  /** ids kept per ledger class in the report (default 20; a sweep keeps them all, to charge each to its failure) */
  ledgerSamples?: number;
  /** an abort ends the flood and every wait after it: the ledger is read as it stands, nothing is restarted, the report says interrupted */
  signal?: AbortSignal;
  /**
   * A second interrupt: `onCut` gets at once the report of what the flood saw (no ledger: nothing
   * more is read from the target), for a caller that must write it and quit within seconds; the
   * run then only stops the target.
   */
  cutSignal?: AbortSignal;
  onCut?: (partial: MonkeyReport) => void | Promise<void>;
  onTick?: (live: LiveCounts) => void;
  /** progress messages for humans ("draining the queue") */
  onStage?: (text: string) => void;
  /** called once the target runs, with the injector and surface (the control API attaches here) */
  onStarted?: (ctx: {
    injector: Injector;
    surface: FaultSurface | null;
    target: Target;
    /** the fault layers wired to the target (registry): a controller checks plans against them */
    layers: LayerSet;
    /** points the run fires besides the surface's (its proxy, its next hop) */
    runPoints: string[];
    /** call after the injector got a new plan: the layers follow it (time-driven faults rescheduled) */
    onPlanChange: (plan: FaultPlan) => Promise<void>;
    /** throws once the faults have stopped for good (the run drains and reconciles) */
    assertFaultsOpen: () => void;
  }) => void | Promise<void>;
}

export interface LiveCounts {
  elapsedMs: number;
  window: string;
  sessions: number;
  outcomes: Record<JudgedOutcome, number>;
  findings: number;
  fired: number;
  accepted: number;
  /** resident memory of this process (the flood, and the target when in-process), MiB */
  rssMiB: number;
}

export interface CrashReport {
  description: string;
  at: string;
  fatal: string | null;
  context: string[];
  /** the process role the fatal line (or a kill of it) points at, when it names one */
  role: string | null;
  /** faults that fired in the seconds before the crash, most recent first */
  faultsBefore: Array<{ point: string; fired: number; lastMsBefore: number }>;
  /** --stop-on-crash: where the instance directory was kept for inspection */
  keptDir?: string;
}

/** How long a session's judgement waits for firings inside the target to be read back (collected every 250 ms). */
const IN_TARGET_JUDGE_DELAY_MS = 1_500;

/** How far back the crash report looks for faults that may have caused it. */
export const CRASH_LOOKBACK_MS = 10_000;

export interface MonkeyReport {
  target: string;
  endpoint: string;
  seed: Seed;
  plan: string[];
  windows: FaultPlan["windows"];
  startedAt: string;
  durationMs: number;
  interrupted: boolean;
  sessions: number;
  outcomes: Record<JudgedOutcome, number>;
  findings: Partial<Record<FindingKind, number>>;
  /** outcomes of the sessions during which each point fired ("(none)" = no fault) */
  perFault: Record<string, Record<JudgedOutcome, number>>;
  points: PointStats[];
  /** surface points whose decisions happen inside the target (libfiu): attributed by time window */
  inTargetFired: Record<string, number>;
  samples: FindingSample[];
  crash: CrashReport | null;
  /** after the faults stopped and the queue drained */
  ledger: LedgerReport | null;
  /** after one restart of the target: ghosts (duplicates) and resurrected mail show here */
  ledgerAfterRestart: LedgerReport | null;
  /**
   * "observed": the queue was counted and drained; "not observable": a server we do not run and
   * have no queue-size command for: the ledger waited for its mailboxes to settle instead
   */
  queue: "observed" | "not observable";
  /** restart-and-reconcile did not run, and why (null when it ran or was not due: crash, interrupt) */
  restartSkipped: string | null;
  /** each fault layer's own counts, by layer name: `nexthop` (NextHopDetails), `process` ({ events }), a plug-in's */
  layers: Record<string, Record<string, unknown>>;
  /** what the fault layers say of themselves, for people (the next hop's counts...) */
  layerLines: string[];
  /** outcomes, faults fired and accepted messages over time, one point per step */
  timeline: RunTimeline;
  /** the command that replays this run (set by the CLI) */
  replay?: string;
  /** total bug-class findings: oracle findings, crash, ledger problems */
  findingCount: number;
  /** inconclusive: no findings, but a planned point never fired (reach names it and why) */
  verdict: "pass" | "findings" | "inconclusive" | "interrupted";
  /** per planned point: faults really injected, calls seen, processes reached, why it never fired */
  reach: PointReach[];
  /** sessions whose finding a fault of their own excused (a reset our proxy made, a kill of the process serving them) */
  excused: number;
  /** per fault point, the sessions of its row that were excused */
  excusedPerFault: Record<string, number>;
  notes: string[];
}

/** One run's state, shared by the steps below. */
interface Run {
  readonly o: MonkeyRunOptions;
  readonly stage: (text: string) => void;
  readonly plan: FaultPlan;
  readonly injector: Injector;
  readonly layers: LayerSet;
  readonly mt: MonkeyTarget;
  readonly ledger: Ledger;
  readonly startedAt: number;
  readonly notes: string[];
  crash: CrashInfo | null;
  flood: Flood | null;
  readonly timeline: TimelineRecorder;
  /** the target's process roles, read once it runs (a crash report names the one that died) */
  roles: string[];
  keptDir?: string | null;
  /** the target's address, read while it runs (after --stop-on-crash it does not) */
  endpoint: string;
  /** the faults have stopped for good: the plan can no longer change */
  healed: boolean;
}

export async function runMonkey(o: MonkeyRunOptions): Promise<MonkeyReport> {
  const stage = o.onStage ?? (() => {});
  const { plan, idleTailMs } = fitWindows(o.plan, o.durationMs);
  const injector = new Injector({ plan, seed: o.seed });
  const { layers, mt, mailboxes } = await setUpTarget(o, plan, injector, stage);
  const notes = o.traffic === undefined ? [] : [`sessions from ${o.traffic.describe}; the oracle judges each transaction on its own, so the tables count transactions`];
  const run: Run = { o, stage, plan, injector, layers, mt, ledger: new Ledger(), startedAt: Date.now(), notes, crash: null, flood: null, healed: false, timeline: new TimelineRecorder(), roles: [], endpoint: "" };
  const offs: Array<() => void> = [];
  const extra = { idleTailMs, inTarget: [] as string[], inTargetFired: {} as Record<string, number> };
  offs.push(onCut(run, extra));
  try {
    const endpoint = await startFaults(run, offs);
    // Points decided inside the target (libfiu) cannot be attributed per call: a session in the
    // faults window is attributed to every such point that is armed.
    const inTarget = (mt.surface?.decidedInside?.() ?? []).filter((p) => plan.points.some((s) => s.name === p));
    extra.inTarget = inTarget;
    const flood = await floodTarget(run, endpoint, [...mt.target.mailboxes, ...mailboxes], inTarget);
    const inTargetFired = await heal(run);
    const after = run.crash !== null && o.stopOnCrash === true ? keepForInspection(run) : await drainAndReconcile(run);
    if (o.keep === true && run.keptDir === undefined) {
      const kept = mt.target.keepFiles?.() ?? null;
      run.notes.push(kept !== null ? `--keep: the target's instance directory is kept at ${kept}` : "--keep: this target has no instance directory of the toolkit's to keep");
    }
    return verdict(run, flood, after, { idleTailMs, inTarget, inTargetFired });
  } finally {
    for (const off of offs) off();
    await layers.stopBeforeTarget();
    await mt.close?.();
    await mt.target.stop();
    await layers.stopAfterTarget();
  }
}

/** The second interrupt: the report of what the flood saw so far, handed over at once (nothing is
 * read from the target any more); before the flood began there is nothing to report. */
function onCut(run: Run, extra: { idleTailMs: number; inTarget: string[]; inTargetFired: Record<string, number> }): () => void {
  const { cutSignal, onCut: deliver } = run.o;
  if (cutSignal === undefined || deliver === undefined) return () => {};
  const cut = (): void => {
    const flood = run.flood;
    if (flood === null) return;
    flood.stop();
    run.notes.push("interrupted twice: this is what the flood saw; nothing was drained, restarted or reconciled, and the ledger was not read");
    const after: AfterRun = { interrupted: true, ledger: null, ledgerAfterRestart: null, queueObservable: run.mt.target.queueObservable !== false, restartSkipped: "interrupted twice", afterRunFailure: null };
    void deliver(verdict(run, flood, after, extra));
  };
  cutSignal.addEventListener("abort", cut, { once: true });
  return () => cutSignal.removeEventListener("abort", cut);
}

/**
 * The layers the plan calls for (registry), first those that must exist before the target (the
 * next hop, which the target is configured to relay to), then the target; a plan naming points
 * the target cannot fire is refused before it starts.
 */
async function setUpTarget(o: MonkeyRunOptions, plan: FaultPlan, injector: Injector, stage: (t: string) => void): Promise<{ layers: LayerSet; mt: MonkeyTarget; mailboxes: string[] }> {
  const layers = LayerSet.attach(injector, plan, { stage });
  try {
    const needs = await layers.prepare();
    // libfiu's random decisions inside the target replay with the run's seed
    // only the mechanisms the plan (or points declared for later plans) needs are attached to the target
    const mayFire = [...plan.points.map((p) => p.name), ...(o.mayFire ?? [])];
    const mt = o.createTarget({ fiuSeed: o.seed, mayFire, ...(needs.nextHop === undefined ? {} : { nextHop: needs.nextHop }), ...(needs.beforeLaunch === undefined ? {} : { beforeLaunch: needs.beforeLaunch }), ...(needs.onStopped === undefined ? {} : { onStopped: needs.onStopped }), ...(needs.ownProcess === true ? { ownProcess: true } : {}) });
    layers.useSurface(mt.surface);
    const refused = layers.unsupported(plan.points.map((p) => p.name), mt.target.name);
    if (refused !== null) throw refused;
    return { layers, mt, mailboxes: mt.adoptsNextHop === true ? [] : (needs.mailboxes ?? []) };
  } catch (err) {
    await layers.stopBeforeTarget();
    await layers.stopAfterTarget();
    throw err;
  }
}

/** Starts the target and its layers and puts the plan in force; returns where the flood connects. */
async function startFaults(run: Run, offs: Array<() => void>): Promise<{ host: string; port: number }> {
  const { mt, layers, injector, plan, stage } = run;
  const target = mt.target;
  await target.start();
  offs.push(
    target.onCrash((c) => {
      run.crash ??= c;
      stage(`target crashed: ${describeCrash(c)}; stopping the flood`);
      run.flood?.stop();
    }),
  );
  run.endpoint = `${target.endpoint.host}:${target.endpoint.port}`;
  assertLoopback(target.endpoint.host, run.o.allowRemote === true, "flood");
  try {
    run.roles = [...new Set((await target.processes()).map((p) => p.role.toLowerCase()))];
  } catch {
    // a server we do not run has no processes of ours: a crash report then names no role
  }
  const endpoint = await layers.start({ target, surface: mt.surface, endpoint: { host: target.endpoint.host, port: target.endpoint.port } });
  await layers.admit(plan, target.name);
  injector.setPlan(plan);
  await mt.surface?.apply(injector);
  await layers.follow(plan, target.name);
  // A plan set through the control API: the layers follow it too (their refusal is the API's 400).
  const onPlanChange = async (next: FaultPlan): Promise<void> => {
    try {
      await layers.follow(next, target.name);
    } catch (err) {
      throw err instanceof UnsupportedPointsError ? new StatementError(err.message) : err;
    }
  };
  const assertFaultsOpen = (): void => {
    if (run.healed) throw new StatementError("the flood is over and the run is reconciling: the plan can no longer change");
  };
  const surfacePoints = mt.surface?.points() ?? [];
  const runPoints = layers.points().filter((p) => !surfacePoints.includes(p));
  await run.o.onStarted?.({ injector, surface: mt.surface, target, layers, runPoints, onPlanChange, assertFaultsOpen });
  return endpoint;
}

/** The flood, with live counts every second, until its duration, its session cap, a crash or an abort. */
async function floodTarget(run: Run, endpoint: { host: string; port: number }, mailboxes: string[], inTarget: string[]): Promise<Flood> {
  const { o, injector, layers, ledger, stage } = run;
  // TLS and IPv6 sessions reach the target's own listeners; through the net.* proxy only the
  // plain port is faulted, and they fall back to it.
  const own = run.mt.target.endpoint;
  const direct = endpoint.host === own.host && endpoint.port === own.port;
  const flood = new Flood({
    host: endpoint.host,
    port: endpoint.port,
    endpoints: direct ? { ...(own.tlsPort !== undefined ? { tlsPort: own.tlsPort } : {}), ...(own.host6 !== undefined ? { host6: own.host6 } : {}) } : {},
    ...(o.traffic !== undefined ? { traffic: o.traffic } : {}),
    mailboxes,
    ledger,
    seed: o.seed,
    concurrency: o.concurrency,
    durationMs: o.durationMs,
    timeoutMs: o.timeoutMs ?? 30_000,
    ...(o.maxSessions !== undefined ? { maxSessions: o.maxSessions } : {}),
    // Each layer says how its firings are charged to sessions (registry): by connection, by time
    // (a firing inside the target at its own time, a process fault until its role serves again),
    // or (the next hop's, after the session) not at all.
    faultsDuring: (from, to, clientPort) => layers.charge(injector.firedBetween(from, to), clientPort),
    // firings decided inside the target are read back every few hundred ms
    ...(inTarget.length > 0 ? { judgeDelayMs: IN_TARGET_JUDGE_DELAY_MS } : {}),
    judgeOptions: () => ({ crash: run.crash }),
    ...(o.onSession !== undefined ? { onSession: o.onSession } : {}),
  });
  run.flood = flood;
  const onAbort = (): void => flood.stop();
  o.signal?.addEventListener("abort", onAbort);
  const sample = (): void => run.timeline.sample(Math.max(0, Math.ceil((Date.now() - run.startedAt) / 1000) - 1), injector.window(), flood.tally.total, Object.fromEntries(injector.stats().map((p) => [p.point, p.fired])), ledger.accepted);
  const ticker = setInterval(() => {
    sample();
    o.onTick?.({
      elapsedMs: Date.now() - run.startedAt,
      window: injector.window(),
      sessions: flood.sessions,
      outcomes: { ...flood.tally.total },
      findings: flood.tally.findingCount(),
      fired: injector.stats().reduce((a, s) => a + s.fired, 0),
      accepted: ledger.accepted,
      rssMiB: Math.round(process.memoryUsage.rss() / 1048576),
    });
  }, 1000);
  try {
    if (o.signal?.aborted !== true) {
      const { gaveUp } = await flood.run();
      if (gaveUp !== null) {
        run.notes.push(gaveUp);
        stage(gaveUp);
      }
    }
  } finally {
    clearInterval(ticker);
    sample();
    o.signal?.removeEventListener("abort", onAbort);
  }
  return flood;
}

/** Faults off everywhere, for good; returns what libfiu fired inside the target. */
async function heal(run: Run): Promise<Record<string, number>> {
  const surface = run.mt.surface;
  run.stage(run.o.signal?.aborted === true ? "faults stopped; reading the ledger as it stands (interrupted)" : "faults stopped; draining the queue");
  run.healed = true;
  run.injector.setEnabled(false);
  await run.layers.heal();
  await surface?.clear();
  const fired = (await surface?.drainFired?.()) ?? new Map<string, number>();
  for (const p of surface?.problems ?? []) run.notes.push(`the fault surface could not follow the plan: ${p}`);
  return Object.fromEntries(fired);
}

interface AfterRun {
  interrupted: boolean;
  ledger: LedgerReport | null;
  ledgerAfterRestart: LedgerReport | null;
  queueObservable: boolean;
  restartSkipped: string | null;
  afterRunFailure: string | null;
}

/** --stop-on-crash: the target is left as it died (its directory kept), nothing is drained or reconciled. */
function keepForInspection(run: Run): AfterRun {
  const kept = run.mt.target.keepFiles?.() ?? null;
  run.notes.push(`--stop-on-crash: the target was not drained, restarted or reconciled${kept !== null ? `; its instance directory is kept at ${kept}` : " (it has no instance directory of ours to keep)"}`);
  run.stage(kept !== null ? `stopped on the crash; the target's files are kept in ${kept}` : "stopped on the crash");
  run.keptDir = kept;
  return { interrupted: run.o.signal?.aborted === true, ledger: null, ledgerAfterRestart: null, queueObservable: true, restartSkipped: "--stop-on-crash", afterRunFailure: null };
}

/** --drain-timeout as one budget for the whole after-flood phase, and the interrupt that ends its waits. */
interface DrainBudget {
  readonly ms: number;
  /** when the budget runs out: set once, as the after-flood phase begins */
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
}

/** One reading of the ledger, and how the wait before it ended. */
interface Reconciled {
  report: LedgerReport;
  settle: SettleResult | null;
  /** how long it waited for the queue to drain (or the Maildirs to settle), ms */
  waitedMs: number;
  /** the run had been interrupted by the time of the reading: it was taken without waiting (further) */
  interrupted: boolean;
}

/**
 * Lets the target deliver what it acknowledged, reconciles, restarts it once and reconciles
 * again, all within one --drain-timeout. An interrupt ends any wait at once: the ledger is then
 * read as it stands and nothing more is restarted, so the partial report comes promptly.
 */
async function drainAndReconcile(run: Run): Promise<AfterRun> {
  const { o, mt, notes, stage } = run;
  const { target, readsMailboxes, unmanaged } = mt;
  const ms = o.drainTimeoutMs ?? 60_000;
  const budget: DrainBudget = { ms, deadline: Date.now() + ms, signal: o.signal };
  const aborted = (): boolean => o.signal?.aborted === true;
  let ledgerReport: LedgerReport | null = null;
  let ledgerAfterRestart: LedgerReport | null = null;
  const crashedInRun = run.crash !== null;
  const queueObservable = unmanaged === undefined || unmanaged.queueObservable;
  const readings: Reconciled[] = [];
  const reconcileNow = async (): Promise<LedgerReport> => {
    const r = await reconcile(run, budget, queueObservable ? null : (unmanaged as UnmanagedTarget));
    readings.push(r);
    return r.report;
  };
  // A server we do not run is restarted only by the user's command: say so rather than skip silently.
  let restartSkipped: string | null = null;
  if (o.restart === false) restartSkipped = "--no-restart";
  else if (unmanaged !== undefined && !unmanaged.restartable) restartSkipped = "the toolkit does not run this server and has no --restart-cmd for it";
  // Whatever happens from here on, the run's results are reported: a target that cannot be
  // restarted or flushed is itself a finding, not a reason to lose the report.
  let afterRunFailure: string | null = null;
  try {
    if (crashedInRun && !aborted()) {
      notes.push("the target crashed: restarting it to recover its queue before reconciling");
      await target.restart();
    } else if (crashedInRun) notes.push("the target crashed and the run was interrupted: it was not restarted, the ledger reads what it left");
    if (readsMailboxes === false) notes.push("the ledger was skipped: the toolkit cannot read this server's mailboxes (give --maildir)");
    else ledgerReport = await reconcileNow();
    if (!aborted() && restartSkipped === null && !crashedInRun && readsMailboxes !== false) {
      stage("restarting the target once and reconciling again");
      if (queueObservable && ledgerReport !== null && ledgerReport.queueSize > 0) {
        notes.push(
          `${ledgerReport.queueSize} message(s) were still queued when the target was restarted (the drain gave up after ${formatDuration(readings[0]?.waitedMs ?? 0)}, when ${budgetWords(budget)} ran out; a longer one waits longer): ` +
            "a duplicate after the restart can then be mail that was being delivered at the stop, sent again (at-least-once), not only a ghost of the queue",
        );
      }
      await target.restart();
      ledgerAfterRestart = await reconcileNow();
    }
  } catch (err) {
    afterRunFailure = err instanceof Error ? err.message : String(err);
    const late = target.crash();
    run.crash ??= late;
    notes.push(`after the flood the target could not be ${ledgerReport === null ? "drained" : "restarted and drained"}: ${afterRunFailure}`);
    if (late !== null) notes.push(`it died: ${describeCrash(late)}`);
    else run.crash = { at: Date.now(), source: "log", exitCode: null, signal: null, line: `not usable after the run: ${afterRunFailure}`, logTail: target.logs().slice(-20) };
    stage(`reconcile failed: ${afterRunFailure}`);
  }
  // read once, at the end: a signal during the restart or the last reading still makes the run interrupted
  const interrupted = aborted();
  if (restartSkipped !== null && readsMailboxes !== false && !interrupted && !crashedInRun) notes.push(`restart was skipped (${restartSkipped}): ghosts and mail lost across a restart were not checked`);
  notes.push(...drainNotes(readings, budget, ledgerAfterRestart !== null, interrupted));
  if (!queueObservable && readsMailboxes !== false) notes.push(...settleNotes(readings, (unmanaged as UnmanagedTarget).settleMs, budget));
  return { interrupted, ledger: ledgerReport, ledgerAfterRestart, queueObservable, restartSkipped, afterRunFailure };
}

/** How the report names the budget: once, with what it covers (it is easy to read as per drain). */
function budgetWords(budget: DrainBudget): string {
  return `--drain-timeout's ${formatDuration(budget.ms)} (one budget for the drain, the restart and the drain after it)`;
}

/** What the readings cannot say on their own: mail left queued by the spent budget, or by an interrupt. */
function drainNotes(readings: readonly Reconciled[], budget: DrainBudget, restarted: boolean, interrupted: boolean): string[] {
  const notes: string[] = [];
  const afterRestart = restarted ? readings[readings.length - 1] : undefined;
  if (afterRestart !== undefined && !afterRestart.interrupted && afterRestart.report.queueSize > 0) {
    notes.push(`${afterRestart.report.queueSize} message(s) were still queued after the restart when ${budgetWords(budget)} ran out: they count as stuck (or missing); a longer --drain-timeout tells slow delivery from stuck mail`);
  }
  if (interrupted && readings.some((r) => r.interrupted)) {
    notes.push(
      "the run was interrupted: the ledger was read as the queue and mailboxes stood, without waiting for the queue to drain, so mail counted stuck or missing may only have been on its way" +
        (restarted ? "" : "; the restart-and-reconcile step was skipped"),
    );
  }
  return notes;
}

/**
 * The faults that may have touched a message's queue entry after its 250: those aimed at the
 * MTA's processes (pause, kill, system calls of a role) and those decided inside it (libfiu),
 * from the 250 to the end of the run's faults. Not the ones of other clients' connections.
 */
function queueEntryFaults(run: Run, acceptedAtMs: number): string[] {
  const inside = new Set(run.mt.surface?.decidedInside?.() ?? []);
  const touched = run.injector.firedBetween(acceptedAtMs, Date.now()).filter((f) => f.at >= acceptedAtMs && (inside.has(f.point) || (kindOf(f.point)?.roleOf?.(f.point) ?? null) !== null));
  return [...new Set(touched.map((f) => f.point))];
}

/** The report: the oracle's tallies, the ledger, the crash, what the layers saw, and the verdict. */
function verdict(run: Run, flood: Flood, after: AfterRun, extra: { idleTailMs: number; inTarget: string[]; inTargetFired: Record<string, number> }): MonkeyReport {
  const { plan, notes, ledger, injector, mt } = run;
  const { interrupted } = after;
  const crashed = run.crash !== null;
  if (run.o.traffic !== undefined && flood.transports.size > 0) notes.push(`sessions connected: ${[...flood.transports].map(([k, n]) => `${k} ${n}`).join(", ")}`);
  const tally = flood.tally;
  const finalLedger = after.ledgerAfterRestart ?? after.ledger;
  const ledgerFindings = finalLedger === null ? 0 : ledgerFindingCount(finalLedger);
  if ([after.ledger, after.ledgerAfterRestart].some((l) => l !== null && l.missing > 0)) {
    notes.push(
      after.queueObservable
        ? "stuck and lost cannot be told apart (the queue's ids are not listable): accepted messages neither delivered nor bounced while the queue was not empty are counted together as missing"
        : "stuck and lost cannot be told apart (the queue is not observable): accepted messages neither delivered nor bounced are counted together as missing",
    );
  }
  // A run in which the server acknowledged nothing checked nothing: the ledger is empty and a
  // server that answers out of turn or refuses everything would otherwise pass.
  const nothingAccepted = !interrupted && flood.sessions > 0 && ledger.accepted === 0;
  if (nothingAccepted) notes.push(`the server accepted no message in ${flood.sessions} session(s): nothing was delivered that the ledger could check (a finding)`);
  const findingCount = tally.findingCount() + (crashed || after.afterRunFailure !== null ? 1 : 0) + ledgerFindings + (nothingAccepted ? 1 : 0);
  if (plan.points.length === 0) notes.push("the plan has no fault points: this was a clean run");
  else if (extra.idleTailMs > 0) notes.push(`the plan's windows end ${formatDuration(extra.idleTailMs)} before the flood did: that last part ran without faults (--faults sets the faults window)`);
  if (extra.inTarget.length > 0) notes.push(`${extra.inTarget.join(", ")} fire inside the target: a session is charged with the firings that happened while it ran (by their own times), so per-point rows and ledger attributions are by time, not proven cause`);
  const layerReports = run.layers.reports();
  for (const r of layerReports) notes.push(...(r.notes ?? []));
  const reach = pointReach(plan.points, injector.stats(), [mt.surface?.reach?.() ?? {}, ...layerReports.map((r) => r.reach ?? {})]);
  const missed = unreached(reach);
  const estimated = reach.filter((r) => r.estimate && r.reached);
  if (estimated.length > 0) notes.push(`${estimated.map((r) => r.point).join(", ")}: firing counts are estimates read from the MTA's log (libfiu keeps no count); a failure the MTA did not log is not counted`);
  return {
    target: mt.target.name,
    endpoint: run.endpoint,
    seed: run.o.seed,
    plan: plan.points.map(describeSpec),
    windows: plan.windows,
    startedAt: new Date(run.startedAt).toISOString(),
    durationMs: Date.now() - run.startedAt,
    interrupted,
    sessions: flood.sessions,
    outcomes: { ...tally.total },
    findings: { ...tally.findings },
    perFault: Object.fromEntries(tally.perFault),
    points: injector.stats(),
    inTargetFired: extra.inTargetFired,
    samples: tally.samples,
    crash: run.crash === null ? null : crashReport(run.crash, run),
    ledger: after.ledger,
    ledgerAfterRestart: after.ledgerAfterRestart,
    queue: after.queueObservable ? "observed" : "not observable",
    restartSkipped: after.restartSkipped,
    layers: Object.fromEntries(layerReports.flatMap((r) => (r.details === undefined ? [] : [[r.layer, r.details]]))),
    layerLines: layerReports.flatMap((r) => r.lines ?? []),
    timeline: run.timeline.result(),
    findingCount,
    verdict: interrupted ? "interrupted" : findingCount > 0 ? "findings" : missed.length > 0 ? "inconclusive" : "pass",
    reach,
    excused: tally.excused,
    excusedPerFault: Object.fromEntries(tally.excusedPerFault),
    notes,
  };
}

function crashReport(c: CrashInfo, run: Run): CrashReport {
  const { fatal, context } = crashContext(c.logTail, c.line ?? null);
  const recent = run.injector.firedBetween(c.at - CRASH_LOOKBACK_MS, c.at);
  const byPoint = new Map<string, { point: string; fired: number; lastMsBefore: number }>();
  for (const f of recent) {
    const e = byPoint.get(f.point) ?? { point: f.point, fired: 0, lastMsBefore: Infinity };
    e.fired++;
    e.lastMsBefore = Math.min(e.lastMsBefore, Math.max(0, c.at - f.at));
    byPoint.set(f.point, e);
  }
  const faultsBefore = [...byPoint.values()].sort((a, b) => a.lastMsBefore - b.lastMsBefore);
  return {
    description: describeCrash(c),
    at: new Date(c.at).toISOString(),
    fatal,
    context,
    role: crashedRole(fatal, context, faultsBefore, run.roles),
    faultsBefore,
    ...(run.keptDir !== undefined && run.keptDir !== null ? { keptDir: run.keptDir } : {}),
  };
}

/** The role a crash points at: one a fault aimed at a role hit just before (kill, pause, sys), else one the fatal line (or the lines before it) names. */
function crashedRole(fatal: string | null, context: readonly string[], faults: ReadonlyArray<{ point: string }>, roles: readonly string[]): string | null {
  for (const f of faults) {
    const role = kindOf(f.point)?.roleOf?.(f.point) ?? null;
    if (role !== null) return role;
  }
  const named = (line: string): string | null => roles.find((r) => new RegExp(`(^|[^\\w-])${r.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^\\w-]|$)`, "i").test(line)) ?? null;
  if (fatal !== null) {
    const r = named(fatal);
    if (r !== null) return r;
  }
  for (const line of [...context].reverse()) {
    const r = named(line);
    if (r !== null) return r;
  }
  return null;
}

/**
 * Flushes the queue until it is empty (or the budget is spent, or the run is interrupted), then
 * compares deliveries and bounces with the ledger. Where the target lists the ids in its queue, an
 * undelivered message is stuck (its id is queued) or lost (it is not); where it cannot, they are
 * told apart only by an empty queue, else counted missing. `settleOn` (a server whose queue cannot
 * be counted): flush once, then wait until its mailboxes stop changing; ids missing then are
 * counted missing. Interrupted, it waits for nothing: one reading, as things stand.
 */
async function reconcile(run: Run, budget: DrainBudget, settleOn: UnmanagedTarget | null): Promise<Reconciled> {
  const { target } = run.mt;
  const { stage } = run;
  const started = Date.now();
  const left = (): number => Math.max(0, budget.deadline - Date.now());
  const aborted = (): boolean => budget.signal?.aborted === true;
  const read = async (queueSize: number, queued: string[] | null, queueKnown = true): Promise<LedgerReport> => {
    const got = await deliveredIdsOf(target);
    got.delivered.push(...run.layers.deliveredIds());
    const afterAccept = (at: number): readonly string[] => queueEntryFaults(run, at);
    return run.ledger.reconcile({ delivered: got.delivered, bounced: got.bounced, queueSize, queued, queueKnown, afterAccept }, run.o.ledgerSamples ?? 20);
  };
  if (settleOn !== null) {
    let settle: SettleResult | null = null;
    if (!aborted()) {
      await target.flushQueue();
      stage(`the queue is not observable: waiting until the Maildirs stop changing for ${formatDuration(settleOn.settleMs)} (at most ${formatDuration(left())}, what is left of --drain-timeout)`);
      settle = await settleOn.settle(left(), budget.signal);
      if (!settle.settled && !aborted()) stage(`the Maildirs had not settled when --drain-timeout (${formatDuration(budget.ms)}, all of the after-flood phase) ran out`);
    }
    return { report: await read(0, null, false), settle, waitedMs: Date.now() - started, interrupted: aborted() };
  }
  let size = await target.queueSize();
  if (size > 0 && left() > 0 && !aborted()) stage(`waiting for ${size} queued message(s) to be delivered (at most ${formatDuration(left())}, what is left of --drain-timeout)`);
  while (size > 0 && left() > 0 && !aborted()) {
    await target.flushQueue();
    await pause(Math.min(500, left()), budget.signal);
    size = await target.queueSize();
  }
  const waitedMs = Date.now() - started;
  if (size > 0) stage(aborted() ? `interrupted: ${size} message(s) still queued; reading the ledger as it stands` : `${size} message(s) still queued when --drain-timeout (${formatDuration(budget.ms)}, all of the after-flood phase) ran out`);
  // The queue's ids before the deliveries: a message delivered in between is then found
  // delivered, never in neither.
  const queued = (await target.queueIds?.()) ?? null;
  // Deliveries can trail the queue file's removal by a moment; an interrupted run waits this too,
  // or a message delivered just then would read as lost.
  await sleep(300);
  return { report: await read(size, queued), settle: null, waitedMs, interrupted: aborted() };
}

/** Plain words on how a server with no observable queue was judged. */
function settleNotes(readings: readonly Reconciled[], settleMs: number, budget: DrainBudget): string[] {
  const notes = [
    "the queue was not observable (no --queue-size-cmd): the ledger waited until the Maildirs had not changed for " +
      `${formatDuration(settleMs)}; an accepted id neither delivered nor bounced by then is counted missing (stuck or lost: the queue cannot say which)`,
  ];
  for (const { settle, report, interrupted } of readings) {
    // an interrupted wait has its own note (drainNotes)
    if (settle === null || settle.settled || interrupted) continue;
    const missing = report.lost + report.stuck + report.missing;
    notes.push(`the Maildirs had not been still for ${formatDuration(settleMs)} when ${budgetWords(budget)} ran out: ${missing} missing id(s) may still have been on their way`);
  }
  return notes;
}
