// A target with the monkey's wiring in it: its fault surface for runs and `monkey serve`, its
// smtpscript `monkey` statements (the monkey's one interpreter, controller.ts, over that surface),
// and what must be closed with it. The embedded target is driven in process (every hook asks the
// injector); real MTAs describe theirs (targets/fault-hooks.ts) and the wiring follows that.
import { createTarget, startTarget, targetPlugin } from "../targets/registry.js";
import { EmbeddedTarget, type EmbeddedTargetOptions } from "../targets/embedded/target.js";
import { describesFaults } from "../targets/fault-hooks.js";
import type { Target } from "../targets/target.js";
import type { ScriptFaults } from "../smtpscript/runner.js";
import type { StartedWithFaults } from "../smtpscript/providers.js";
import { InProcessSurface } from "./layers/wrap.js";
import { TargetLookups } from "./real/lookups.js";
import { Injector } from "./injector.js";
import { validatePlan } from "./plan.js";
import { unitOf } from "./layers/registry.js";
import { SHIM_CALLS } from "../targets/process/syscall-shim.js";
import { PlanController } from "./controller.js";
import { RealFaults } from "./real/wiring.js";
import type { FaultSurface } from "./surface.js";
import type { MonkeyTarget } from "./run.js";
import type { NextHopNeed } from "./layers/unit.js";

export interface FaultableTarget {
  target: Target;
  /** the monkey's fault surface, or null when the target offers none */
  surface(): FaultSurface | null;
  /** smtpscript `monkey` statements, or null when the target offers no fault points */
  script(): ScriptFaults | null;
  /** ends the wiring (timers, paused processes); call when the target stops */
  close(): Promise<void>;
}

/**
 * Creates a target with its fault wiring: libfiu in the roles its plug-in names (explicit `fiu`
 * wins), the syscall shim in its processes when the plug-in offers it (`syscalls: false` not) and its lookups decided by the monkey's router (`lookups: false` turns that off).
 * smtpscript runs and the monkey ask for this; storms and plain starts do not, so their numbers
 * are not measured through the lookup server.
 */
export function createFaultableTarget(name: string, options: Record<string, unknown> = {}): FaultableTarget {
  const { mayFire, ...given } = options;
  if (name === "embedded") return faultableEmbedded(new EmbeddedTarget({ mode: "in-process", ...(given as EmbeddedTargetOptions) }));
  const plugin = targetPlugin(name);
  const { lookups: asked, ...rest } = given;
  const lookups = asked instanceof TargetLookups ? asked : asked === undefined && plugin.faultDefaults?.lookups === true ? new TargetLookups() : null;
  const attach = mechanismsFor(Array.isArray(mayFire) ? (mayFire as string[]) : []);
  const target = createTarget(name, {
    // libfiu and the syscall supervisor change the MTA (a thread and FIFOs per process, a trap per
    // call): attached only when a point the run may fire needs them
    ...(plugin.faultDefaults?.fiu !== undefined && attach.libfiu ? { fiu: plugin.faultDefaults.fiu } : {}),
    ...(plugin.faultDefaults?.syscalls === true && attach.syscalls.length > 0 ? { syscalls: attach.syscalls } : {}),
    ...rest,
    ...(lookups !== null ? { lookups } : {}),
  });
  if (!describesFaults(target)) return { target, surface: () => null, script: () => null, close: async () => {} };
  const wired = new RealFaults(target, lookups);
  let script: ScriptFaults | null = null;
  return { target, surface: () => wired.surface(), script: () => (script ??= statementsOn(target, wired.surface())), close: () => wired.close() };
}

/**
 * What the points a run may fire need attached to the MTA: libfiu for the points it carries
 * (queue.*, alloc, deliver.*, relay.*), and the calls sys.<role>.<call> points trap. A glob
 * ("sys.*", "*") declares every point it matches.
 */
export function mechanismsFor(points: readonly string[]): { libfiu: boolean; syscalls: string[] } {
  const all = points.some((p) => p === "*" || p === "sys.*");
  const calls = new Set<string>(all ? SHIM_CALLS : []);
  let libfiu = points.some((p) => p === "*");
  for (const p of points) {
    // sys.<role>.<call>, the role possibly a glob
    const m = /^sys\.[^.]+\.([a-z]+)$/.exec(p);
    if (m !== null) calls.add(m[1] as string);
    // a glob (queue.*) names the points of the layer its family belongs to
    if (unitOf(p.replace(/\*/g, "x"))?.name === "syscall") libfiu = true;
  }
  return { libfiu, syscalls: [...calls] };
}

/**
 * smtpscript's `monkey` statements on a target it started: a plan of their own, decided by an
 * injector of their own. Every test-case ends with clear(); a target its faults crashed is then
 * restarted, so that the next test-case finds it up.
 */
function statementsOn(target: Target, surface: FaultSurface): ScriptFaults {
  const injector = new Injector({ plan: validatePlan({ points: {} }), seed: 0 });
  const controller = new PlanController({ injector, surface, target: target.name });
  return {
    get points() {
      return controller.points;
    },
    apply: (args) => controller.apply(args),
    clear: async () => {
      const unreached = await controller.clear();
      if (target.crash() !== null) await target.restart();
      return unreached;
    },
  };
}

/** Starts a target with its fault wiring; its stop() also ends the wiring (smtpscript, the library). */
export async function startFaultableTarget(ref: string, options: Record<string, unknown> = {}): Promise<StartedWithFaults> {
  const f = createFaultableTarget(ref, options);
  const started = await startTarget(f.target);
  return {
    started: {
      ...started,
      stop: async () => {
        await f.close();
        await started.stop();
      },
    },
    faults: f.script(),
  };
}

function faultableEmbedded(target: EmbeddedTarget): FaultableTarget {
  if (target.mode !== "in-process") return { target, surface: () => null, script: () => null, close: async () => {} };
  let script: ScriptFaults | null = null;
  let surface: InProcessSurface | null = null;
  const surfaceOnce = (): InProcessSurface => (surface ??= new InProcessSurface(target));
  return { target, surface: surfaceOnce, script: () => (script ??= statementsOn(target, surfaceOnce())), close: async () => {} };
}

/** What a monkey run asks of the target it creates: a relay to its next hop, libfiu seeded from the run's seed. */
export interface TargetExtras {
  nextHop?: NextHopNeed;
  fiuSeed?: number;
  /** the points the run may fire (its plan, and what the user declared for later plans): the mechanisms they need are attached */
  mayFire?: readonly string[];
  /** run by every start before the MTA runs (power.cut) */
  beforeLaunch?: (dir: string, target: Target) => Promise<void>;
  onStopped?: (dir: string) => Promise<void>;
  /** the MTA must be a process of its own (power.cut): the embedded target runs as a child */
  ownProcess?: boolean;
}

export function monkeyTarget(name: string, extra: TargetExtras = {}): MonkeyTarget {
  // a target that delivers to a sink delivers to the flaky next hop: its faults apply to that traffic
  const adopts = extra.nextHop?.sink !== undefined && targetPlugin(name).deliversToSink === true;
  const hop = adopts ? undefined : extra.nextHop;
  const options =
    name === "embedded"
      ? {
          // retry quickly, so the drain after a run does not wait minutes for a flaky next hop
          retryDelaysMs: [200, 500, 1000, 2000, 5000],
          ...(hop !== undefined ? { relayDomains: [hop.domain], nextHop: { host: hop.host, port: hop.port } } : {}),
          ...(extra.ownProcess === true ? { mode: "child" } : {}),
          ...(extra.beforeLaunch !== undefined ? { beforeLaunch: extra.beforeLaunch } : {}),
          ...(extra.onStopped !== undefined ? { onStopped: extra.onStopped } : {}),
        }
      : {
          // Real MTAs relay the hop's domain to it (targets refuse a hop off loopback).
          ...(hop !== undefined ? { relay: { domain: hop.domain, host: hop.host, port: hop.port } } : {}),
          ...(adopts ? { sink: extra.nextHop?.sink } : {}),
          ...(extra.fiuSeed !== undefined ? { fiuSeed: extra.fiuSeed } : {}),
          mayFire: extra.mayFire ?? [],
          ...(extra.beforeLaunch !== undefined ? { beforeLaunch: extra.beforeLaunch } : {}),
          ...(extra.onStopped !== undefined ? { onStopped: extra.onStopped } : {}),
        };
  const f = createFaultableTarget(name, options);
  const t = f.target;
  // A target whose queue cannot be counted: its deliveries are over once its mailboxes settle.
  const settleMs = 5_000;
  const settle = t.settleMailboxes?.bind(t);
  const unmanaged = t.queueObservable === false && settle !== undefined ? { queueObservable: false, restartable: true, settleMs, settle: (maxMs: number, signal?: AbortSignal) => settle(settleMs, maxMs, signal) } : undefined;
  return { target: t, surface: f.surface(), close: () => f.close(), ...(unmanaged !== undefined ? { unmanaged } : {}), ...(adopts ? { adoptsNextHop: true } : {}) };
}
