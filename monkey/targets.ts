// Which fault surface each target offers the monkey. The embedded target is driven in-process
// (every hook asks the injector); real MTAs bring their own surfaces (libfiu, lookup servers).
import { createTarget, targetNames } from "../targets/registry.js";
import { EmbeddedTarget } from "../targets/embedded/target.js";
import type { Target } from "../targets/target.js";
import { InProcessSurface } from "./layers/wrap.js";
import type { FaultSurface } from "./surface.js";
import type { MonkeyTarget } from "./run.js";

/** A target that knows its own fault surface (real MTAs). */
export interface HasFaultSurface {
  faultSurface(): FaultSurface;
}

function hasSurface(t: Target): t is Target & HasFaultSurface {
  return typeof (t as Partial<HasFaultSurface>).faultSurface === "function";
}

export function monkeyTarget(name: string, extra: { nextHop?: { host: string; port: number; domain: string } } = {}): MonkeyTarget {
  if (name === "embedded") {
    const target = new EmbeddedTarget({
      mode: "in-process",
      // retry quickly, so the drain after a run does not wait minutes for a flaky next hop
      retryDelaysMs: [200, 500, 1000, 2000, 5000],
      ...(extra.nextHop !== undefined ? { relayDomains: [extra.nextHop.domain], nextHop: { host: extra.nextHop.host, port: extra.nextHop.port } } : {}),
    });
    return { target, surface: new InProcessSurface(target) };
  }
  if (!targetNames().includes(name)) throw new Error(`unknown target "${name}" (known: ${targetNames().join(", ")})`);
  // Real MTAs relay the hop's domain to it (targets refuse a hop off loopback).
  const relay = extra.nextHop === undefined ? {} : { relay: { domain: extra.nextHop.domain, host: extra.nextHop.host, port: extra.nextHop.port } };
  const target = createTarget(name, { faults: true, ...relay });
  return { target, surface: hasSurface(target) ? target.faultSurface() : null };
}
