// The storm's session kinds. A new kind is one file in this folder and one line here.
import type { StormKind } from "./kind.js";
import basic from "./basic.js";
import pipelined from "./pipelined.js";
import multi from "./multi.js";
import abortData from "./abort-data.js";
import abortAfterDot from "./abort-after-dot.js";
import garbage from "./garbage.js";
import wellbehaved from "./wellbehaved.js";
import slowloris from "./slowloris.js";
import large from "./large.js";
import manyRcpts from "./many-rcpts.js";
import hold from "./hold.js";

// "basic" first: shrinking goes towards the first kind, the plainest session.
export const KINDS: readonly StormKind[] = [basic, pipelined, multi, abortData, abortAfterDot, garbage, wellbehaved, slowloris, large, manyRcpts, hold];

export const SESSION_KINDS: readonly string[] = KINDS.map((k) => k.name);

export function kindUnit(name: string): StormKind {
  const k = KINDS.find((u) => u.name === name);
  if (k === undefined) throw new RangeError(`unknown session kind "${name}" (${SESSION_KINDS.join(", ")})`);
  return k;
}
