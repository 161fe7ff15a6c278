// Reading and drawing mix numbers: ranges with units ("64k", "500ms"), log-uniform sizes.
import { UserError } from "../../common/errors.js";
import fc from "fast-check";
import type { MixSection, Range } from "./kind.js";

/** Shown on one line: text from a mix file or a flag comes out with its control characters escaped. */
export class MixError extends UserError {}

export const SIZE_UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 };
export const TIME_UNITS: Record<string, number> = { "": 1, ms: 1, s: 1000, m: 60_000 };

/** A number, or a string with a unit: sizes "64k", "10M"; durations "500ms", "5s". */
function quantity(v: unknown, units: Record<string, number>, what: string): number {
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
    const unit = units[(m?.[2] ?? "").toLowerCase()];
    if (m !== null && unit !== undefined) return Math.round(Number(m[1]) * unit);
  }
  throw new MixError(`mix: ${what}: not a number: ${JSON.stringify(v)}`);
}

export function range(v: unknown, def: Range, units: Record<string, number>, what: string): Range {
  if (v === undefined) return def;
  if (typeof v !== "object" || v === null) throw new MixError(`mix: ${what} must be {min, max}`);
  const o = v as { min?: unknown; max?: unknown };
  const r = { min: o.min === undefined ? def.min : quantity(o.min, units, `${what}.min`), max: o.max === undefined ? def.max : quantity(o.max, units, `${what}.max`) };
  if (!(r.min >= 0 && r.max >= r.min)) throw new MixError(`mix: ${what} needs 0 <= min <= max`);
  return r;
}

/** A {min, max} section of counts or sizes, at least `least`, with what a plan draws from it. */
export function rangeSection(key: string, def: Range, least: number, draw: (r: Range) => Record<string, fc.Arbitrary<number>>): MixSection<Range> {
  return {
    key,
    default: def,
    parse(raw) {
      const r = range(raw, def, SIZE_UNITS, key);
      if (r.min < least) throw new MixError(`mix: ${key} needs ${least} <= min <= max`);
      return r;
    },
    draw,
  };
}

export function integer(r: Range): fc.Arbitrary<number> {
  return fc.integer({ min: r.min, max: r.max });
}

/** Log-uniform integer in [min, max]; shrinks towards min. */
export function logInt(r: Range): fc.Arbitrary<number> {
  if (r.min === r.max) return fc.constant(r.min);
  const logMin = Math.log(Math.max(1, r.min));
  const logMax = Math.log(Math.max(1, r.max));
  return fc.double({ min: logMin, max: logMax, noNaN: true }).map((l) => Math.max(r.min, Math.min(r.max, Math.round(Math.exp(l)))));
}
