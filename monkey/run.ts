// One monkey run: start the target with its fault surface, apply the plan, flood it with a
// continuous flow of mail while faults fire, then stop the faults, drain the queue, reconcile
// the ledger, restart the target once and reconcile again. Everything the run saw ends up in a
// MonkeyReport; an interrupted run still produces one (the partial report).
import { describeCrash } from "../targets/target.js";
import type { Target, CrashInfo } from "../targets/target.js";
import { Flood } from "./flood.js";
import { Injector } from "./injector.js";
import type { PointStats } from "./injector.js";
import { Ledger } from "./ledger.js";
import type { LedgerReport } from "./ledger.js";
import { crashContext } from "./oracle.js";
import type { FindingKind, FindingSample, Outcome } from "./oracle.js";
import { describeSpec, fitWindows } from "./plan.js";
import { formatDuration } from "../common/duration.js";
import type { FaultPlan } from "./plan.js";
import type { Seed } from "./rng.js";
import type { Traffic } from "../smtp/index.js";
import type { FaultSurface } from "./surface.js";
import { SmtpProxy } from "./layers/proxy.js";
import { FlakyNextHop } from "./layers/nexthop.js";
import { ProcessFaults, processPointsOf, roleOf } from "./layers/process.js";
import type { ProcessFaultEvent } from "./layers/process.js";
import { sleep } from "./layers/layer.js";
import { StatementError } from "./statement.js";
import type { SettleResult } from "../common/settle.js";

/** The plan names fault points the target cannot fire: a usage error, never silently ignored. */
export class UnsupportedPointsError extends Error {
  constructor(
    readonly points: string[],
    readonly supported: string[],
    target: string,
  ) {
    super(`${target} has no fault point ${points.join(", ")}; it offers ${supported.join(", ") || "none"} (plus net.*, pause.<role>, kill.<role>)`);
    this.name = "UnsupportedPointsError";
  }
}

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
}

/** What the run may know of a server the user runs (implemented by ExternalTarget). */
export interface UnmanagedTarget {
  /** false: queueSize() means nothing; deliveries are over once the mailboxes settle */
  readonly queueObservable: boolean;
  /** false: the run cannot restart it, so the restart-and-reconcile step is skipped */
  readonly restartable: boolean;
  readonly settleMs: number;
  settle(maxMs: number): Promise<SettleResult>;
}

export interface MonkeyRunOptions {
  /** Creates (not starts) the target; `nextHop` is set when the plan has nexthop.* points. */
  createTarget: (extra: { nextHop?: { host: string; port: number; domain: string } }) => MonkeyTarget;
  plan: FaultPlan;
  seed: Seed;
  durationMs: number;
  concurrency: number;
  maxSessions?: number;
  /** the flood's sessions (a storm mix); default: one transaction of a drawn shape each */
  traffic?: Traffic;
  /** per-wait client timeout; a server silent for longer is a hang */
  timeoutMs?: number;
  /** how long to wait for the queue to drain after the faults stop, each time */
  drainTimeoutMs?: number;
  /** restart the target once after the first reconcile (default true) */
  restart?: boolean;
  signal?: AbortSignal;
  onTick?: (live: LiveCounts) => void;
  /** progress messages for humans ("draining the queue") */
  onStage?: (text: string) => void;
  /** called once the target runs, with the injector and surface (the control API attaches here) */
  onStarted?: (ctx: {
    injector: Injector;
    surface: FaultSurface | null;
    target: Target;
    /** points the run fires besides the surface's (its proxy, its next hop) */
    runPoints: string[];
    /** call after the injector got a new plan: reschedules the run's own time-driven faults */
    onPlanChange: (plan: FaultPlan) => Promise<void>;
    /** throws once the faults have stopped for good (the run drains and reconciles) */
    assertFaultsOpen: () => void;
  }) => void | Promise<void>;
}

export interface LiveCounts {
  elapsedMs: number;
  window: string;
  sessions: number;
  outcomes: Record<Outcome, number>;
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
}

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
  outcomes: Record<Outcome, number>;
  findings: Partial<Record<FindingKind, number>>;
  /** outcomes of the sessions during which each point fired ("(none)" = no fault) */
  perFault: Record<string, Record<Outcome, number>>;
  points: PointStats[];
  /** surface points whose decisions happen inside the target (libfiu): attributed by time window */
  inTargetFired: Record<string, number>;
  processEvents: number;
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
  /** duplicates: ids the hop got more than once beyond the resends its lost 250s called for */
  nextHop: { duplicates: number; resentAfterLost250: number; stats: FlakyNextHop["stats"] } | null;
  /** total bug-class findings: oracle findings, crash, ledger problems */
  findingCount: number;
  verdict: "pass" | "findings" | "interrupted";
  notes: string[];
}

const NEXTHOP_DOMAIN = "relay.test.example";

export async function runMonkey(o: MonkeyRunOptions): Promise<MonkeyReport> {
  const stage = o.onStage ?? (() => {});
  const notes: string[] = [];
  if (o.traffic !== undefined) notes.push(`sessions from ${o.traffic.describe}; the oracle judges each transaction on its own, so the tables count transactions`);
  const { plan, idleTailMs } = fitWindows(o.plan, o.durationMs);
  const planPoints = plan.points.map((p) => p.name);
  const wantsProxy = plan.points.some((p) => p.family === "net");
  const wantsNextHop = plan.points.some((p) => p.family === "nexthop");

  const injector = new Injector({ plan, seed: o.seed });
  const nextHop = wantsNextHop ? new FlakyNextHop({ injector }) : null;
  await nextHop?.start();
  const nh = nextHop?.address() ?? null;
  const { target, surface, readsMailboxes, unmanaged, close: closeWiring } = o.createTarget(nh === null ? {} : { nextHop: { ...nh, domain: NEXTHOP_DOMAIN } });

  const surfacePoints = surface?.points() ?? [];
  const generic = (name: string): boolean => /^(net|nexthop|pause|kill)\./.test(name);
  const unsupported = planPoints.filter((p) => !surfacePoints.includes(p) && !generic(p));
  if (unsupported.length > 0) {
    await nextHop?.stop();
    throw new UnsupportedPointsError(unsupported, surfacePoints, target.name);
  }

  let proxy: SmtpProxy | null = null;
  let processFaults: ProcessFaults | null = null;
  let processEventsEarlier = 0;
  let healed = false;
  let crash: CrashInfo | null = null;
  let flood: Flood | null = null;
  const ledger = new Ledger();
  const startedAt = Date.now();
  const offs: Array<() => void> = [];
  try {
    await target.start();
    offs.push(
      target.onCrash((c) => {
        crash ??= c;
        stage(`target crashed: ${describeCrash(c)}; stopping the flood`);
        flood?.stop();
      }),
    );
    let endpoint = target.endpoint;
    if (wantsProxy) {
      proxy = new SmtpProxy({ upstream: { host: endpoint.host, port: endpoint.port }, injector });
      await proxy.start();
      const a = proxy.address();
      if (a !== null) endpoint = { host: a.host, port: a.port };
    }
    // Time-driven process faults the surface does not own itself, on roles the target has.
    const processFaultsFor = async (plan: FaultPlan): Promise<ProcessFaults | null> => {
      const points = processPointsOf(plan.points, surfacePoints);
      if (points.length === 0) return null;
      const roles = (await target.processes()).map((p) => p.role.toLowerCase());
      const missing = points.filter((p) => !roles.includes(roleOf(p)));
      if (missing.length > 0) throw new UnsupportedPointsError(missing, [...surfacePoints, ...roles.flatMap((r) => [`pause.${r}`, `kill.${r}`])], target.name);
      return new ProcessFaults({ injector, processes: () => target.processes(), onEvent: (e) => processEventLog(e, stage), only: points });
    };
    processFaults = await processFaultsFor(plan);
    injector.setPlan(plan);
    await surface?.apply(injector);
    await processFaults?.start();
    // A plan set through the control API reschedules the process faults too.
    const onPlanChange = async (plan: FaultPlan): Promise<void> => {
      let next: ProcessFaults | null;
      try {
        next = await processFaultsFor(plan);
      } catch (err) {
        throw err instanceof UnsupportedPointsError ? new StatementError(err.message) : err;
      }
      processEventsEarlier += processFaults?.events.length ?? 0;
      await processFaults?.stop();
      processFaults = next;
      await next?.start();
    };
    const assertFaultsOpen = (): void => {
      if (healed) throw new StatementError("the flood is over and the run is reconciling: the plan can no longer change");
    };
    await o.onStarted?.({ injector, surface, target, runPoints: [...(proxy?.points() ?? []), ...(nextHop?.points() ?? [])], onPlanChange, assertFaultsOpen });

    // Points decided inside the target (libfiu) cannot be attributed per call: a session in the
    // faults window is attributed to every such point that is armed.
    const inTarget = (surface?.decidedInside?.() ?? []).filter((p) => planPoints.includes(p));
    const inTargetFired: Record<string, number> = {};
    const mailboxes = [...target.mailboxes, ...(nh !== null ? [`user@${NEXTHOP_DOMAIN}`] : [])];
    flood = new Flood({
      host: endpoint.host,
      port: endpoint.port,
      // Through the proxy only the plain port is faulted; TLS and IPv6 sessions then fall back to it.
      endpoints: { ...(endpoint.tlsPort !== undefined ? { tlsPort: endpoint.tlsPort } : {}), ...(endpoint.host6 !== undefined ? { host6: endpoint.host6 } : {}) },
      ...(o.traffic !== undefined ? { traffic: o.traffic } : {}),
      mailboxes,
      ledger,
      seed: o.seed,
      concurrency: o.concurrency,
      durationMs: o.durationMs,
      timeoutMs: o.timeoutMs ?? 30_000,
      ...(o.maxSessions !== undefined ? { maxSessions: o.maxSessions } : {}),
      faultsDuring: (from, to, clientPort) => {
        // Faults that know their connection count only for that session; others by time. The
        // proxy knows the client's port; the target sees the proxy's port towards it instead.
        // The next hop's faults hit the target's relaying, after the client's session: the
        // ledger and the hop's own counts judge them, not the session table.
        const serverSide = clientPort === undefined || proxy === null ? clientPort : proxy.upstreamPortOf(clientPort);
        const fired = injector
          .firedBetween(from, to)
          .filter((f) => !f.point.startsWith("nexthop."))
          .filter((f) => clientPort === undefined || f.conn === undefined || f.conn === (f.point.startsWith("net.") ? clientPort : serverSide))
          .map((f) => f.point);
        if (inTarget.length > 0 && injector.window(to) === "faults") fired.push(...inTarget);
        return fired;
      },
      judgeOptions: () => ({ crash }),
    });
    const onAbort = (): void => flood?.stop();
    o.signal?.addEventListener("abort", onAbort);
    const ticker = setInterval(() => {
      const f = flood as Flood;
      o.onTick?.({
        elapsedMs: Date.now() - startedAt,
        window: injector.window(),
        sessions: f.sessions,
        outcomes: { ...f.tally.total },
        findings: f.tally.findingCount(),
        fired: injector.stats().reduce((a, s) => a + s.fired, 0),
        accepted: ledger.accepted,
        rssMiB: Math.round(process.memoryUsage.rss() / 1048576),
      });
    }, 1000);
    try {
      if (o.signal?.aborted !== true) {
        const { gaveUp } = await flood.run();
        if (gaveUp !== null) {
          notes.push(gaveUp);
          stage(gaveUp);
        }
      }
    } finally {
      clearInterval(ticker);
      o.signal?.removeEventListener("abort", onAbort);
    }

    // Heal: faults off everywhere, then let the target deliver what it acknowledged.
    stage("faults stopped; draining the queue");
    healed = true;
    injector.setEnabled(false);
    await processFaults?.stop();
    await surface?.clear();
    const fired = (await surface?.drainFired?.()) ?? new Map<string, number>();
    for (const p of surface?.problems ?? []) notes.push(`the fault surface could not follow the plan: ${p}`);
    for (const [p, n] of fired) inTargetFired[p] = n;
    await proxy?.stop();
    proxy = null;

    const interrupted = o.signal?.aborted === true;
    const drainMs = interrupted ? Math.min(o.drainTimeoutMs ?? 60_000, 10_000) : (o.drainTimeoutMs ?? 60_000);
    let ledgerReport: LedgerReport | null = null;
    let ledgerAfterRestart: LedgerReport | null = null;
    const crashedInRun = crash !== null;
    const queueObservable = unmanaged === undefined || unmanaged.queueObservable;
    const settles: Array<{ settle: SettleResult | null; missing: number }> = [];
    const reconcileNow = async (): Promise<LedgerReport> => {
      const r = await reconcile(target, ledger, nextHop, drainMs, stage, queueObservable ? null : (unmanaged as UnmanagedTarget));
      settles.push({ settle: r.settle, missing: r.report.lost + r.report.stuck });
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
      if (crashedInRun) {
        notes.push("the target crashed: restarting it to recover its queue before reconciling");
        await target.restart();
      }
      if (readsMailboxes === false) notes.push("the ledger was skipped: the toolkit cannot read this server's mailboxes (give --maildir)");
      else ledgerReport = await reconcileNow();
      if (!interrupted && restartSkipped === null && !crashedInRun && readsMailboxes !== false) {
        stage("restarting the target once and reconciling again");
        if (queueObservable && ledgerReport !== null && ledgerReport.queueSize > 0) {
          notes.push(
            `${ledgerReport.queueSize} message(s) were still queued when the target was restarted (the drain gave up after ${Math.round(drainMs / 1000)} s; --drain-timeout raises it): ` +
              "a duplicate after the restart can then be mail that was being delivered at the stop, sent again (at-least-once), not only a ghost of the queue",
          );
        }
        await target.restart();
        ledgerAfterRestart = await reconcileNow();
      }
    } catch (err) {
      afterRunFailure = err instanceof Error ? err.message : String(err);
      const late = target.crash();
      crash ??= late;
      notes.push(`after the flood the target could not be ${ledgerReport === null ? "drained" : "restarted and drained"}: ${afterRunFailure}`);
      if (late !== null) notes.push(`it died: ${describeCrash(late)}`);
      else crash = { at: Date.now(), source: "log", exitCode: null, signal: null, line: `not usable after the run: ${afterRunFailure}`, logTail: target.logs().slice(-20) };
      stage(`reconcile failed: ${afterRunFailure}`);
    }
    const crashed = crash !== null;
    if (restartSkipped !== null && readsMailboxes !== false && !interrupted && !crashedInRun) notes.push(`restart was skipped (${restartSkipped}): ghosts and mail lost across a restart were not checked`);
    if (!queueObservable && readsMailboxes !== false) notes.push(...settleNotes(settles, (unmanaged as UnmanagedTarget).settleMs, drainMs));

    if (o.traffic !== undefined && flood.transports.size > 0) notes.push(`sessions connected: ${[...flood.transports].map(([k, n]) => `${k} ${n}`).join(", ")}`);
    const tally = flood.tally;
    const finalLedger = ledgerAfterRestart ?? ledgerReport;
    const ledgerFindings = finalLedger === null ? 0 : finalLedger.lost + finalLedger.stuck + finalLedger.duplicates + finalLedger.deliveredAfterReject + finalLedger.deliveredUnsent;
    // A run in which the server acknowledged nothing checked nothing: the ledger is empty and a
    // server that answers out of turn or refuses everything would otherwise pass.
    const nothingAccepted = !interrupted && flood.sessions > 0 && ledger.accepted === 0;
    if (nothingAccepted) notes.push(`the server accepted no message in ${flood.sessions} session(s): nothing was delivered that the ledger could check (a finding)`);
    const findingCount = tally.findingCount() + (crashed || afterRunFailure !== null ? 1 : 0) + ledgerFindings + (nothingAccepted ? 1 : 0);
    if (plan.points.length === 0) notes.push("the plan has no fault points: this was a clean run");
    else if (idleTailMs > 0) notes.push(`the plan's windows end ${formatDuration(idleTailMs)} before the flood did: that last part ran without faults (--faults sets the faults window)`);
    if (inTarget.length > 0) notes.push(`${inTarget.join(", ")} fire inside the target (libfiu): every session of the faults window is attributed to them, so per-point rows and ledger attributions are by time, not cause`);
    return {
      target: target.name,
      endpoint: `${target.endpoint.host}:${target.endpoint.port}`,
      seed: o.seed,
      plan: plan.points.map(describeSpec),
      windows: plan.windows,
      startedAt: new Date(startedAt).toISOString(),
      durationMs: Date.now() - startedAt,
      interrupted,
      sessions: flood.sessions,
      outcomes: { ...tally.total },
      findings: { ...tally.findings },
      perFault: Object.fromEntries(tally.perFault),
      points: injector.stats(),
      inTargetFired,
      processEvents: processEventsEarlier + (processFaults?.events.length ?? 0),
      samples: tally.samples,
      crash: crash === null ? null : crashReport(crash),
      ledger: ledgerReport,
      ledgerAfterRestart,
      queue: queueObservable ? "observed" : "not observable",
      restartSkipped,
      nextHop: nextHop === null ? null : { duplicates: nextHop.duplicates().length, resentAfterLost250: nextHop.resentAfterLost250(), stats: { ...nextHop.stats } },
      findingCount,
      verdict: interrupted ? "interrupted" : findingCount > 0 ? "findings" : "pass",
      notes,
    };
  } finally {
    for (const off of offs) off();
    await processFaults?.stop();
    await proxy?.stop();
    await closeWiring?.();
    await target.stop();
    await nextHop?.stop();
  }
}

function processEventLog(e: ProcessFaultEvent, stage: (t: string) => void): void {
  if (e.error !== undefined) stage(`${e.point}: ${e.action} ${e.role} failed: ${e.error}`);
}

function crashReport(c: CrashInfo): CrashReport {
  const { fatal, context } = crashContext(c.logTail, c.line ?? null);
  return { description: describeCrash(c), at: new Date(c.at).toISOString(), fatal, context };
}

/**
 * Flushes the queue until it is empty (or the time is up), then compares deliveries with the
 * ledger. `settleOn` (a server whose queue cannot be counted): flush once, then wait until its
 * mailboxes stop changing; ids missing then are lost, or stuck when they were still changing at
 * the deadline (mail may still be arriving: not called lost).
 */
async function reconcile(
  target: Target,
  ledger: Ledger,
  nextHop: FlakyNextHop | null,
  drainMs: number,
  stage: (t: string) => void,
  settleOn: UnmanagedTarget | null,
): Promise<{ report: LedgerReport; settle: SettleResult | null }> {
  const deliveredNow = async (): Promise<Array<string | null>> => {
    const delivered: Array<string | null> = target.deliveredIds !== undefined ? await target.deliveredIds() : (await target.delivered()).map((m) => m.id);
    if (nextHop !== null) for (const [id, n] of nextHop.counted()) for (let i = 0; i < n; i++) delivered.push(id === "(none)" ? null : id);
    return delivered;
  };
  if (settleOn !== null) {
    await target.flushQueue();
    stage(`the queue is not observable: waiting until the Maildirs stop changing for ${formatDuration(settleOn.settleMs)} (at most ${formatDuration(drainMs)})`);
    const settle = await settleOn.settle(drainMs);
    const delivered = await deliveredNow();
    if (settle.settled) return { report: ledger.reconcile({ delivered, queueSize: 0 }), settle };
    stage(`the Maildirs were still changing after ${formatDuration(drainMs)}`);
    // Still arriving: whatever is missing may be on its way, so it is stuck rather than lost.
    return { report: ledger.reconcile({ delivered, queueSize: ledger.size }), settle };
  }
  const deadline = Date.now() + drainMs;
  let size = await target.queueSize();
  while (size > 0 && Date.now() < deadline) {
    await target.flushQueue();
    await sleep(500);
    size = await target.queueSize();
  }
  if (size > 0) stage(`${size} message(s) still queued after ${Math.round(drainMs / 1000)} s`);
  // Deliveries can trail the queue file's removal by a moment.
  await sleep(300);
  return { report: ledger.reconcile({ delivered: await deliveredNow(), queueSize: size }), settle: null };
}

/** Plain words on how a server with no observable queue was judged. */
function settleNotes(settles: ReadonlyArray<{ settle: SettleResult | null; missing: number }>, settleMs: number, drainMs: number): string[] {
  const notes = ["the queue was not observable (no --queue-size-cmd): the ledger waited until the Maildirs had not changed for " + `${formatDuration(settleMs)}; an accepted id not delivered by then is counted lost`];
  for (const { settle, missing } of settles) {
    if (settle === null) continue;
    if (!settle.settled) notes.push(`the Maildirs were still changing when --drain-timeout (${formatDuration(drainMs)}) ran out: ${missing} missing id(s) are counted stuck, not lost`);
  }
  return notes;
}
