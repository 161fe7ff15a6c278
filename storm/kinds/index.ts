// The storm's session kinds, read from kinds/all.ts: the mix schema, the CLI help, the shrinker
// and the monkey's mixes all come from this list.
import type { StormKind } from "./kind.js";
import * as all from "./all.js";
import { addPluginInstaller, assertShape, PluginError } from "../../common/plugins.js";

// "basic" first: shrinking goes towards the first kind, the plainest session.
const kinds: StormKind[] = [all.basic, ...Object.values(all).filter((k) => k !== all.basic)];
const names: string[] = kinds.map((k) => k.name);

/** Every kind, shipped then registered (live views: a plug-in's kinds appear once registered). */
export const KINDS: readonly StormKind[] = kinds;
export const SESSION_KINDS: readonly string[] = names;

/** Adds a kind (library users, plug-ins). A name already taken, or a mix section key, is an error. */
export function registerKind(kind: StormKind): void {
  if (names.includes(kind.name)) throw new PluginError(`a storm kind named "${kind.name}" is already registered`);
  if (kind.section !== undefined && kinds.some((k) => k.section?.key === kind.section?.key)) throw new PluginError(`storm kind "${kind.name}": the mix section "${kind.section.key}" is another kind's`);
  kinds.push(kind);
  names.push(kind.name);
}

addPluginInstaller({
  key: "stormKinds",
  install(entries, from) {
    for (const entry of entries) registerKind(assertShape(entry, "storm kind", from, { name: "string", summary: "string", plan: "function", run: "function", script: "function" }) as unknown as StormKind);
  },
});

export function kindUnit(name: string): StormKind {
  const k = KINDS.find((u) => u.name === name);
  if (k === undefined) throw new RangeError(`unknown session kind "${name}" (${SESSION_KINDS.join(", ")})`);
  return k;
}
