// Every fault layer the monkey knows: one unit per file in units/, one `export` line each in
// units/index.ts. The plan, the runner, `monkey serve`, the control API, the statement
// interpreter and the oracle find a layer through these lookups, so a new one needs nothing else.
import { addPluginInstaller, assertShape, PluginError } from "../../common/plugins.js";
import type { FindingKind } from "../oracle.js";
import type { FaultLayerUnit, PointKind } from "./unit.js";
import * as shipped from "./units/index.js";

/** In the order of their export names (a module namespace is sorted): stable, whatever the file order. */
const LAYERS: FaultLayerUnit[] = Object.values(shipped);

/** A point name's kind and the unit that declares it (looked up per fired fault: cached). */
const byName = new Map<string, { unit: FaultLayerUnit; kind: PointKind } | null>();

/** Adds a layer (library users, plug-ins, tests). Its families must be new. */
export function registerLayer(unit: FaultLayerUnit): void {
  const families = new Set(LAYERS.flatMap((u) => u.kinds.map((k) => k.family)));
  if (LAYERS.some((u) => u.name === unit.name)) throw new PluginError(`a fault layer named "${unit.name}" is already registered`);
  const taken = unit.kinds.filter((k) => families.has(k.family)).map((k) => k.family);
  if (taken.length > 0) throw new PluginError(`fault layer "${unit.name}": point families ${taken.join(", ")} are another layer's`);
  LAYERS.push(unit);
  byName.clear();
}

addPluginInstaller({
  key: "faultLayers",
  install(entries, from) {
    for (const entry of entries) {
      const unit = assertShape(entry, "fault layer", from, { name: "string", summary: "string", charge: "string", kinds: "object" });
      if (!Array.isArray(unit.kinds) || unit.kinds.some((k) => typeof k !== "object" || k === null || typeof (k as PointKind).family !== "string" || !((k as PointKind).match instanceof RegExp))) {
        throw new PluginError(`${from.label}: fault layer "${String(unit.name)}": kinds must be a list of { family, patterns, match: RegExp, actions }`);
      }
      registerLayer(unit as unknown as FaultLayerUnit);
    }
  },
});

export function layerUnits(): readonly FaultLayerUnit[] {
  return LAYERS;
}

function lookup(name: string): { unit: FaultLayerUnit; kind: PointKind } | null {
  let hit = byName.get(name);
  if (hit === undefined) {
    hit = null;
    for (const unit of LAYERS) {
      const kind = unit.kinds.find((k) => k.match.test(name));
      if (kind !== undefined) {
        hit = { unit, kind };
        break;
      }
    }
    // names come from plans and fired faults: a bounded vocabulary, but never let it grow unbounded
    if (byName.size > 10_000) byName.clear();
    byName.set(name, hit);
  }
  return hit;
}

export function kindOf(point: string): PointKind | null {
  return lookup(point)?.kind ?? null;
}

export function unitOf(point: string): FaultLayerUnit | null {
  return lookup(point)?.unit ?? null;
}

/** How people write the points of the kinds that satisfy `where`, e.g. "queue.<op>". */
export function pointPatterns(where: (k: PointKind) => boolean = () => true): string[] {
  return LAYERS.flatMap((u) => u.kinds.filter(where).flatMap((k) => k.patterns));
}

/** The oracle's findings a fault at `point` causes on purpose. */
export function excusedBy(point: string): readonly FindingKind[] {
  return lookup(point)?.kind.excuses ?? [];
}

/** `points` grouped by the layer that declares them, with what each layer does (control API, help). */
export function pointsByLayer(points: readonly string[]): Array<{ layer: string; summary: string; points: string[] }> {
  return LAYERS.map((u) => ({ layer: u.name, summary: u.summary, points: points.filter((p) => unitOf(p) === u) })).filter((l) => l.points.length > 0);
}

/** Points for people: three-part names (sys.<role>.<call>, a role times every call) as one product. */
export function describePoints(points: readonly string[]): string {
  const byFamily = new Map<string, { mids: Set<string>; ends: Set<string> }>();
  const flat: string[] = [];
  for (const p of points) {
    const m = /^([^.]+)\.(.+)\.([^.]+)$/.exec(p);
    if (m === null) {
      flat.push(p);
      continue;
    }
    const g = byFamily.get(m[1] as string) ?? { mids: new Set<string>(), ends: new Set<string>() };
    g.mids.add(m[2] as string);
    g.ends.add(m[3] as string);
    byFamily.set(m[1] as string, g);
  }
  const grouped = [...byFamily].map(([f, g]) => `${f}.{${[...g.mids].join("|")}}.{${[...g.ends].join("|")}}`);
  return [...flat, ...grouped].join(", ");
}
