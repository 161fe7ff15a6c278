// The storm's session kinds, read from kinds/all.ts: the mix schema, the CLI help, the shrinker
// and the monkey's mixes all come from this list.
import type { StormKind } from "./kind.js";
import * as all from "./all.js";

// "basic" first: shrinking goes towards the first kind, the plainest session.
export const KINDS: readonly StormKind[] = [all.basic, ...Object.values(all).filter((k) => k !== all.basic)];

export const SESSION_KINDS: readonly string[] = KINDS.map((k) => k.name);

export function kindUnit(name: string): StormKind {
  const k = KINDS.find((u) => u.name === name);
  if (k === undefined) throw new RangeError(`unknown session kind "${name}" (${SESSION_KINDS.join(", ")})`);
  return k;
}
