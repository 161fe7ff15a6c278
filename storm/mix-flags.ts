// The session mix of `smtpchaos storm`: a --mix file, overridden flag by flag (--weight,
// --starttls, --implicit-tls, --ipv6, --transactions, --hold).
import { parseAssignments } from "../common/assignments.js";
import { parseDurationFlag } from "../common/args.js";
import { UsageError } from "../common/errors.js";
import { validateMix } from "./plan.js";
import type { Mix } from "./plan.js";
import { readMixFile } from "./mix-file.js";

export interface MixFlags {
  mix?: string | undefined;
  weight?: string[] | undefined;
  starttls?: string | undefined;
  "implicit-tls"?: string | undefined;
  ipv6?: string | undefined;
  transactions?: string | undefined;
  hold?: string | undefined;
}

/** Throws a UsageError, or the MixError of a file or value validateMix refuses. */
export function mixOf(values: MixFlags): Mix {
  const raw = values.mix !== undefined ? readMixFile(values.mix) : {};
  const m: Record<string, unknown> = { ...raw };
  let weights: Record<string, string>;
  try {
    weights = parseAssignments(values.weight, "--weight");
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (e.g. --weight basic=3)`);
  }
  if (Object.keys(weights).length > 0) {
    // With a mix file, flags override its weights kind by kind; without one they are the whole mix.
    const base: Record<string, number> = { ...((raw.weights as Record<string, number> | undefined) ?? {}) };
    for (const [k, v] of Object.entries(weights)) base[k] = Number(v);
    m.weights = base;
  }
  if (values.starttls !== undefined) m.starttls = Number(values.starttls);
  if (values["implicit-tls"] !== undefined) m.implicitTls = Number(values["implicit-tls"]);
  if (values.ipv6 !== undefined) m.ipv6 = Number(values.ipv6);
  if (values.transactions !== undefined) {
    const t = /^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$/.exec(values.transactions);
    if (t === null) throw new UsageError(`--transactions expects N or MIN..MAX, got "${values.transactions}"`);
    m.transactions = { min: Number(t[1]), max: Number(t[2] ?? t[1]) };
  }
  if (values.hold !== undefined) {
    const d = parseDurationFlag(values.hold, "--hold");
    m.hold = { min: d, max: d };
  }
  return validateMix(m);
}
