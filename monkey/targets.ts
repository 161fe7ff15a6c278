// A target with the monkey's wiring in it: its fault surface for runs and `monkey serve`, its
// smtpscript `monkey` statements, and what must be closed with it. The embedded target is driven
// in process (every hook asks the injector); real MTAs describe theirs (targets/fault-hooks.ts)
// and the wiring here follows the description.
import { createTarget, startTarget, targetPlugin } from "../targets/registry.js";
import { EmbeddedTarget } from "../targets/embedded/target.js";
import { describesFaults } from "../targets/fault-hooks.js";
import type { Target } from "../targets/target.js";
import type { ScriptFaults } from "../smtpscript/runner.js";
import type { StartedWithFaults } from "../smtpscript/providers.js";
import { InProcessSurface } from "./layers/wrap.js";
import { ScriptedFaults } from "./embedded-script-faults.js";
import { TargetLookups } from "./real/lookups.js";
import { RealFaults } from "./real/wiring.js";
import type { FaultSurface } from "./surface.js";
import type { MonkeyTarget } from "./run.js";

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
 * wins) and its lookups decided by the monkey's router (`lookups: false` turns that off).
 * smtpscript runs and the monkey ask for this; storms and plain starts do not, so their numbers
 * are not measured through the lookup server.
 */
export function createFaultableTarget(name: string, options: Record<string, unknown> = {}): FaultableTarget {
  if (name === "embedded") return faultableEmbedded(new EmbeddedTarget({ mode: "in-process", ...options }));
  const plugin = targetPlugin(name);
  const { lookups: asked, ...rest } = options;
  const lookups = asked instanceof TargetLookups ? asked : asked === undefined && plugin.faultDefaults?.lookups === true ? new TargetLookups() : null;
  const target = createTarget(name, {
    ...(plugin.faultDefaults?.fiu !== undefined ? { fiu: plugin.faultDefaults.fiu } : {}),
    ...rest,
    ...(lookups !== null ? { lookups } : {}),
  });
  if (!describesFaults(target)) return { target, surface: () => null, script: () => null, close: async () => {} };
  const wired = new RealFaults(target, lookups);
  return { target, surface: () => wired.surface(), script: () => wired.script, close: () => wired.close() };
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
  let script: ScriptedFaults | null = null;
  let surface: InProcessSurface | null = null;
  return {
    target,
    surface: () => (surface ??= new InProcessSurface(target)),
    script: () => {
      if (script === null) {
        script = new ScriptedFaults();
        target.setFaults(script);
      }
      return script;
    },
    close: async () => {},
  };
}

export function monkeyTarget(name: string, extra: { nextHop?: { host: string; port: number; domain: string } } = {}): MonkeyTarget {
  const hop = extra.nextHop;
  const options =
    name === "embedded"
      ? {
          // retry quickly, so the drain after a run does not wait minutes for a flaky next hop
          retryDelaysMs: [200, 500, 1000, 2000, 5000],
          ...(hop !== undefined ? { relayDomains: [hop.domain], nextHop: { host: hop.host, port: hop.port } } : {}),
        }
      : // Real MTAs relay the hop's domain to it (targets refuse a hop off loopback).
        hop !== undefined ? { relay: { domain: hop.domain, host: hop.host, port: hop.port } } : {};
  const f = createFaultableTarget(name, options);
  const t = f.target;
  // A target whose queue cannot be counted: its deliveries are over once its mailboxes settle.
  const settleMs = 5_000;
  const settle = t.settleMailboxes?.bind(t);
  const unmanaged = t.queueObservable === false && settle !== undefined ? { queueObservable: false, restartable: true, settleMs, settle: (maxMs: number) => settle(settleMs, maxMs) } : undefined;
  return { target: t, surface: f.surface(), close: () => f.close(), ...(unmanaged !== undefined ? { unmanaged } : {}) };
}
