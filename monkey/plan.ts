// The fault plan: which fault points fire, when (schedule, SMTP phase, time window) and how
// (errno, action, latency). Parsed from JSON/YAML files or --fault flags into one validated shape;
// every problem is reported with the path of the offending field.
import { UserError } from "../common/errors.js";
import { formatIssues, Issues, type Issue } from "../common/issues.js";
import { readFileSync } from "node:fs";
import type { Step } from "../smtp/index.js";
import { parse as parseYaml } from "yaml";
import { formatDuration } from "../common/duration.js";
import { normalizeSeed, parseSeed, type Seed } from "../common/rng.js";
import { kindOf, pointPatterns } from "./layers/registry.js";
import type { PointKind } from "./layers/unit.js";
import { errnoName, errnoNumber, errnosOf, isTransient } from "./errnos.js";
import type { SiteDepth } from "../targets/process/syscall-shim.js";

export { errnoName, isTransient };

// the engine's steps a fault can wait for, and "body" (after the 354), which is no step of its own
export const SMTP_PHASES = ["connect", "ehlo", "mail", "rcpt", "data", "body", "dot", "quit"] as const satisfies ReadonlyArray<Step | "body">;
/** Where a session is: "data" = after DATA was sent, "body" = after the 354, "dot" = after the final dot. */
export type SmtpPhase = (typeof SMTP_PHASES)[number];

export type Schedule =
  | { kind: "probability"; p: number }
  /** fires on eligible calls offset, offset+n, offset+2n... (1-based) */
  | { kind: "every"; n: number; offset: number }
  /** fires on the at-th eligible call only (1-based) */
  | { kind: "once"; at: number }
  | { kind: "always" };

export type Latency =
  | { dist: "fixed"; ms: number }
  | { dist: "uniform"; min: number; max: number }
  | { dist: "exponential"; mean: number; max: number | null }
  /** ln(ms) ~ Normal(mu, sigma) */
  | { dist: "lognormal"; mu: number; sigma: number; max: number | null };

/** A family of points (queue, lookup, net...): declared by a fault layer (monkey/layers/registry.ts). */
export type PointFamily = string;
/** One of the family's actions, as its layer declares them (error, tempfail, stall...). */
export type FaultAction = string;

export interface PhaseCondition {
  op: "at" | "after";
  phase: SmtpPhase;
}

export interface FaultSpec {
  name: string;
  family: PointFamily;
  schedule: Schedule;
  /** weighted choice among the family's actions; one entry = always that action */
  actions: Array<{ action: FaultAction; weight: number }>;
  /** only calls made in this SMTP phase are eligible (ignored by layers that cannot see the phase) */
  phase: PhaseCondition | null;
  /** relative to the start of the faults window */
  window: { fromMs: number; untilMs: number | null } | null;
  /** stop firing after this many injections */
  limit: number | null;
  /** syscall-like points (queue.*, alloc): the errno to fail with */
  errno: number | null;
  /** added before the action (or alone, for the "delay" action) */
  latency: Latency | null;
  /** pause.*: how long a role stays stopped; net.stall: how long to stall */
  duration: Latency | null;
  /** time-driven points (pause.*, kill.*): a decision is taken every intervalMs */
  intervalMs: number | null;
  /** pause.*, kill.*: one process of the role (drawn from the seed) or every one; null elsewhere */
  scope: "one" | "all" | null;
  /** net.throttle */
  bytesPerSec: number | null;
  /** sys.*: only calls from this call site (a stack hash `monkey sweep` found); null: any */
  stack?: CallSiteId | null;
}

export interface PlanWindows {
  cleanMs: number;
  /** null = until the heal window before the run ends (fitWindows), or for good without a known end */
  faultsMs: number | null;
  healMs: number;
}

/**
 * The windows of a run of known length: an open faults window ends where the heal window must
 * start so that heal is the run's last part. Returns also how long the run goes on after the
 * windows end (no faults then), for the report to say so.
 */
export function fitWindows(plan: FaultPlan, durationMs: number): { plan: FaultPlan; idleTailMs: number } {
  const w = plan.windows;
  const d = formatDuration;
  // A run whose windows do not fit would inject nothing (faults 0ms) and still pass: refused.
  if (w.faultsMs === null && durationMs - w.cleanMs - w.healMs <= 0) {
    throw new WindowsError(`the run's ${d(durationMs)} duration leaves no time for faults after clean ${d(w.cleanMs)} and heal ${d(w.healMs)}: give a longer --duration or shorter windows`);
  }
  if (w.faultsMs !== null && w.cleanMs + w.faultsMs + w.healMs > durationMs) {
    throw new WindowsError(`the windows clean ${d(w.cleanMs)} + faults ${d(w.faultsMs)} + heal ${d(w.healMs)} = ${d(w.cleanMs + w.faultsMs + w.healMs)} do not fit the run's ${d(durationMs)} duration: give a longer --duration or shorter windows`);
  }
  const faultsMs = w.faultsMs ?? durationMs - w.cleanMs - w.healMs;
  const idleTailMs = Math.max(0, durationMs - (w.cleanMs + faultsMs + w.healMs));
  return { plan: { ...plan, windows: { ...w, faultsMs } }, idleTailMs };
}

/** A plan's windows that do not fit the run's duration (README: exit 2). */
export class WindowsError extends UserError {}

export interface FaultPlan {
  /** null: the runner draws one and reports it */
  seed: Seed | null;
  windows: PlanWindows;
  points: FaultSpec[];
}

export type PlanIssue = Issue;

export class PlanError extends UserError {
  constructor(
    readonly issues: PlanIssue[],
    readonly source = "plan",
  ) {
    super(formatIssues(`${source}: invalid fault plan`, issues));
  }
}

/** "a, b and c": the points of the kinds that satisfy `where`, for messages. */
function pointsWhere(where: (k: PointKind) => boolean, conjunction = "and"): string {
  const p = pointPatterns(where);
  return p.length <= 1 ? (p[0] ?? "none") : `${p.slice(0, -1).join(", ")} ${conjunction} ${p[p.length - 1] as string}`;
}

const POINT_KEYS = new Set([
  "probability", "every", "once", "always", "at", "after", "window", "limit", "errno", "unsafeErrno",
  "action", "actions", "latency", "duration", "interval", "bytesPerSec", "scope", "stack",
]);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);


const LATENCY_FN = /^\s*([a-z]+)\s*\(([^)]*)\)\s*$/;

/** Latency: a duration (fixed), a function string `uniform(10ms,50ms)`, `exp(20ms)`, `lognormal(20ms,0.5)`
 * (median, sigma), or an object `{dist, ...}`. */
export function parseLatency(v: unknown, path: string, c: Issues): Latency | null {
  if (typeof v === "number" || (typeof v === "string" && !LATENCY_FN.test(v))) {
    const ms = c.duration(path, v);
    return ms === null ? null : { dist: "fixed", ms };
  }
  let obj: Obj;
  if (typeof v === "string") {
    const m = LATENCY_FN.exec(v) as RegExpExecArray;
    const args = (m[2] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
    const fn = m[1] as string;
    if (fn === "fixed") obj = { dist: "fixed", ms: args[0] };
    else if (fn === "uniform") obj = { dist: "uniform", min: args[0], max: args[1] };
    else if (fn === "exp" || fn === "exponential") obj = { dist: "exponential", mean: args[0], max: args[1] };
    else if (fn === "lognormal") obj = { dist: "lognormal", median: args[0], sigma: args[1] === undefined ? undefined : Number(args[1]), max: args[2] };
    else {
      c.add(path, `unknown latency function '${fn}' (fixed, uniform, exp, lognormal)`);
      return null;
    }
  } else if (isObj(v)) {
    obj = v;
  } else {
    c.add(path, `must be a duration or a distribution, got ${JSON.stringify(v)}`);
    return null;
  }
  const before = c.list.length;
  const req = (key: string): number => {
    if (obj[key] === undefined) {
      c.add(`${path}.${key}`, "is required");
      return 0;
    }
    return c.duration(`${path}.${key}`, obj[key]) ?? 0;
  };
  const opt = (key: string): number | null => (obj[key] === undefined ? null : c.duration(`${path}.${key}`, obj[key]));
  let out: Latency | null = null;
  switch (obj.dist) {
    case "fixed":
      out = { dist: "fixed", ms: req("ms") };
      break;
    case "uniform": {
      const min = req("min");
      const max = req("max");
      if (max < min) c.add(`${path}.max`, `must be >= min (${min}ms)`);
      out = { dist: "uniform", min, max };
      break;
    }
    case "exponential":
      out = { dist: "exponential", mean: req("mean"), max: opt("max") };
      break;
    case "lognormal": {
      let mu: number;
      if (obj.median !== undefined) {
        const median = c.duration(`${path}.median`, obj.median) ?? 1;
        if (median <= 0) c.add(`${path}.median`, "must be > 0");
        mu = Math.log(Math.max(median, 1e-9));
      } else if (typeof obj.mu === "number" && Number.isFinite(obj.mu)) {
        mu = obj.mu;
      } else {
        c.add(`${path}.median`, "lognormal needs median (a duration) or mu (mean of ln ms)");
        mu = 0;
      }
      const sigma = obj.sigma;
      if (typeof sigma !== "number" || !Number.isFinite(sigma) || sigma < 0) c.add(`${path}.sigma`, `must be a number >= 0, got ${JSON.stringify(sigma)}`);
      out = { dist: "lognormal", mu, sigma: typeof sigma === "number" ? sigma : 0, max: opt("max") };
      break;
    }
    default:
      c.add(`${path}.dist`, `must be one of fixed, uniform, exponential, lognormal; got ${JSON.stringify(obj.dist)}`);
  }
  return c.list.length === before ? out : null;
}

function parseSchedule(raw: Obj, path: string, c: Issues): Schedule | null {
  const given = ["probability", "every", "once", "always"].filter((k) => raw[k] !== undefined);
  if (given.length === 0) {
    c.add(path, "needs a schedule: one of probability, every, once, always");
    return null;
  }
  if (given.length > 1) {
    c.add(path, `has more than one schedule (${given.join(", ")}); pick one`);
    return null;
  }
  const key = given[0] as string;
  const v = raw[key];
  const p = `${path}.${key}`;
  switch (key) {
    case "probability":
      if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
        c.add(p, `must be a number in [0, 1], got ${JSON.stringify(v)}`);
        return null;
      }
      return { kind: "probability", p: v };
    case "every": {
      const n = isObj(v) ? v.n : v;
      const offset = isObj(v) ? (v.offset ?? n) : n;
      if (!Number.isInteger(n) || (n as number) < 1) {
        c.add(isObj(v) ? `${p}.n` : p, `must be an integer >= 1, got ${JSON.stringify(n)}`);
        return null;
      }
      if (!Number.isInteger(offset) || (offset as number) < 1) {
        c.add(`${p}.offset`, `must be an integer >= 1, got ${JSON.stringify(offset)}`);
        return null;
      }
      return { kind: "every", n: n as number, offset: offset as number };
    }
    case "once":
      if (v === true) return { kind: "once", at: 1 };
      if (Number.isInteger(v) && (v as number) >= 1) return { kind: "once", at: v as number };
      c.add(p, `must be true or the 1-based call number to fail, got ${JSON.stringify(v)}`);
      return null;
    default:
      if (v !== true) {
        c.add(p, `must be true, got ${JSON.stringify(v)}`);
        return null;
      }
      return { kind: "always" };
  }
}

/** Any errno the point's call can really return (errnos.ts); unsafeErrno is still read, no longer needed. */
function parseErrno(v: unknown, call: string | null, path: string, c: Issues): number | null {
  const n = errnoNumber(v);
  if (n === null) {
    c.add(path, `unknown errno ${JSON.stringify(v)}`);
    return null;
  }
  const can = call === null ? null : errnosOf(call);
  if (can !== null && !can.includes(errnoName(n))) {
    c.add(path, `${call} does not return ${errnoName(n)} (${n}); it can return ${can.join(", ")}`);
    return null;
  }
  return n;
}

function parsePhase(raw: Obj, path: string, c: Issues): PhaseCondition | null {
  if (raw.at !== undefined && raw.after !== undefined) {
    c.add(path, "give either at or after, not both");
    return null;
  }
  const op = raw.at !== undefined ? "at" : raw.after !== undefined ? "after" : null;
  if (op === null) return null;
  const v = raw[op];
  const phase = typeof v === "string" ? v.toLowerCase() : v;
  if (!(SMTP_PHASES as readonly unknown[]).includes(phase)) {
    c.add(`${path}.${op}`, `must be an SMTP phase (${SMTP_PHASES.join(", ")}), got ${JSON.stringify(v)}`);
    return null;
  }
  return { op, phase: phase as SmtpPhase };
}

function defaultAction(name: string, kind: PointKind): FaultAction {
  if (kind.namedAction === true) return name.slice(name.indexOf(".") + 1);
  return kind.actions[0] as FaultAction;
}

function parseActions(raw: Obj, name: string, kind: PointKind, path: string, c: Issues): FaultSpec["actions"] {
  const allowed: readonly string[] = kind.actions;
  if (kind.namedAction === true) {
    if (raw.action !== undefined || raw.actions !== undefined) c.add(`${path}.action`, `${name} names its action; remove action/actions`);
    return [{ action: defaultAction(name, kind), weight: 1 }];
  }
  if (raw.action !== undefined && raw.actions !== undefined) {
    c.add(path, "give either action or actions, not both");
    return [];
  }
  const check = (a: unknown, p: string): a is FaultAction => {
    if (typeof a === "string" && allowed.includes(a)) return true;
    c.add(p, `must be one of ${allowed.join(", ")} for ${kind.family} points, got ${JSON.stringify(a)}`);
    return false;
  };
  if (raw.action !== undefined) return check(raw.action, `${path}.action`) ? [{ action: raw.action, weight: 1 }] : [];
  if (raw.actions !== undefined) {
    if (!isObj(raw.actions) || Object.keys(raw.actions).length === 0) {
      c.add(`${path}.actions`, "must be a non-empty map of action -> weight");
      return [];
    }
    const out: FaultSpec["actions"] = [];
    for (const [a, w] of Object.entries(raw.actions)) {
      if (!check(a, `${path}.actions.${a}`)) continue;
      if (typeof w !== "number" || !(w > 0)) c.add(`${path}.actions.${a}`, `weight must be a number > 0, got ${JSON.stringify(w)}`);
      else out.push({ action: a, weight: w });
    }
    return out;
  }
  return [{ action: defaultAction(name, kind), weight: 1 }];
}

function parsePoint(name: string, raw: unknown, path: string, c: Issues): FaultSpec | null {
  const kind = kindOf(name);
  if (kind === null) {
    c.add(path, `unknown fault point: expected ${pointsWhere(() => true, "or")}`);
    return null;
  }
  const family = kind.family;
  const needs = (what: "duration" | "bytesPerSec"): boolean => kind.needs?.includes(what) === true;
  if (!isObj(raw)) {
    c.add(path, "must be an object");
    return null;
  }
  const before = c.list.length;
  for (const k of Object.keys(raw)) if (!POINT_KEYS.has(k)) c.add(`${path}.${k}`, "unknown field");
  const schedule = parseSchedule(raw, path, c);
  const actions = parseActions(raw, name, kind, path, c);
  const phase = parsePhase(raw, path, c);
  if (phase !== null && kind.timeDriven === true) c.add(path, `${family} points are time-driven; at/after do not apply`);

  let window: FaultSpec["window"] = null;
  if (raw.window !== undefined) {
    if (!isObj(raw.window)) c.add(`${path}.window`, "must be {from, until}");
    else {
      const fromMs = raw.window.from === undefined ? 0 : c.duration(`${path}.window.from`, raw.window.from);
      const untilMs = raw.window.until === undefined ? null : c.duration(`${path}.window.until`, raw.window.until);
      if (fromMs !== null && untilMs !== null && untilMs <= fromMs) c.add(`${path}.window.until`, "must be after from");
      window = { fromMs: fromMs ?? 0, untilMs };
    }
  }
  let limit: number | null = null;
  if (raw.limit !== undefined) {
    if (!Number.isInteger(raw.limit) || (raw.limit as number) < 1) c.add(`${path}.limit`, `must be an integer >= 1, got ${JSON.stringify(raw.limit)}`);
    else limit = raw.limit as number;
  }

  let errno: number | null = null;
  if (raw.unsafeErrno !== undefined && typeof raw.unsafeErrno !== "boolean") c.add(`${path}.unsafeErrno`, "must be true or false");
  if (kind.errno === true) errno = raw.errno === undefined ? 5 : parseErrno(raw.errno, kind.callOf?.(name) ?? null, `${path}.errno`, c);
  else if (raw.errno !== undefined) c.add(`${path}.errno`, `only ${pointsWhere((k) => k.errno === true)} points fail with an errno`);

  const latency = raw.latency === undefined ? null : parseLatency(raw.latency, `${path}.latency`, c);
  if (actions.some((a) => a.action === "delay" || a.action === "latency") && raw.latency === undefined) c.add(`${path}.latency`, "is required for the delay/latency action");

  let duration: Latency | null = null;
  if (raw.duration !== undefined) {
    if (!needs("duration")) c.add(`${path}.duration`, `only ${pointsWhere((k) => k.needs?.includes("duration") === true)} take a duration`);
    else duration = parseLatency(raw.duration, `${path}.duration`, c);
  } else if (needs("duration")) c.add(`${path}.duration`, "is required");

  let intervalMs: number | null = null;
  if (kind.timeDriven === true) {
    intervalMs = raw.interval === undefined ? 1000 : c.duration(`${path}.interval`, raw.interval);
    if (intervalMs !== null && intervalMs < 10) c.add(`${path}.interval`, "must be at least 10ms");
  } else if (raw.interval !== undefined) c.add(`${path}.interval`, `only ${pointsWhere((k) => k.timeDriven === true)} points are time-driven`);

  let scope: FaultSpec["scope"] = null;
  if (kind.scoped === true) {
    if (raw.scope !== undefined && raw.scope !== "one" && raw.scope !== "all") c.add(`${path}.scope`, `must be "one" (a process of the role, drawn from the seed) or "all", got ${JSON.stringify(raw.scope)}`);
    scope = raw.scope === "all" ? "all" : "one";
  } else if (raw.scope !== undefined) c.add(`${path}.scope`, `only ${pointsWhere((k) => k.scoped === true)} points take a scope`);

  let bytesPerSec: number | null = null;
  if (needs("bytesPerSec")) {
    if (typeof raw.bytesPerSec !== "number" || !(raw.bytesPerSec > 0)) c.add(`${path}.bytesPerSec`, "is required: a number > 0");
    else bytesPerSec = raw.bytesPerSec;
  } else if (raw.bytesPerSec !== undefined) c.add(`${path}.bytesPerSec`, `applies only to ${pointsWhere((k) => k.needs?.includes("bytesPerSec") === true)}`);

  let stack: CallSiteId | null = null;
  if (raw.stack !== undefined) {
    if (kind.callSites !== true) c.add(`${path}.stack`, `only ${pointsWhere((k) => k.callSites === true)} points tell call sites apart`);
    else {
      stack = parseCallSite(raw.stack);
      if (stack === null) c.add(`${path}.stack`, `must be a call site as monkey sweep prints it (8 hex digits, then :2 or :4 when hashed over fewer return addresses), got ${JSON.stringify(raw.stack)}`);
    }
  }

  if (c.list.length !== before || schedule === null) return null;
  return { name, family, schedule, actions, phase, window, limit, errno, latency, duration, intervalMs, scope, bytesPerSec, ...(stack !== null ? { stack } : {}) };
}

/** Validates a parsed JSON/YAML document. Throws PlanError listing every issue. */
export function validatePlan(doc: unknown, source = "plan"): FaultPlan {
  const c = new Issues();
  if (!isObj(doc)) throw new PlanError([{ path: "(root)", message: "must be an object with points" }], source);
  for (const k of Object.keys(doc)) if (!["seed", "windows", "points"].includes(k)) c.add(k, "unknown field (seed, windows, points)");
  let seed: Seed | null = null;
  if (doc.seed !== undefined && doc.seed !== null) {
    if (typeof doc.seed === "number" && Number.isSafeInteger(doc.seed)) seed = normalizeSeed(doc.seed);
    else if (typeof doc.seed === "string" && doc.seed.trim() !== "") seed = parseSeed(doc.seed);
    else c.add("seed", `must be an integer or a string, got ${JSON.stringify(doc.seed)}`);
  }
  const windows: PlanWindows = { cleanMs: 0, faultsMs: null, healMs: 0 };
  if (doc.windows !== undefined) {
    if (!isObj(doc.windows)) c.add("windows", "must be {clean, faults, heal}");
    else {
      for (const k of Object.keys(doc.windows)) if (!["clean", "faults", "heal"].includes(k)) c.add(`windows.${k}`, "unknown field (clean, faults, heal)");
      if (doc.windows.clean !== undefined) windows.cleanMs = c.duration("windows.clean", doc.windows.clean) ?? 0;
      if (doc.windows.faults !== undefined) windows.faultsMs = c.duration("windows.faults", doc.windows.faults);
      if (doc.windows.heal !== undefined) windows.healMs = c.duration("windows.heal", doc.windows.heal) ?? 0;
    }
  }
  const points: FaultSpec[] = [];
  if (doc.points === undefined) c.add("points", "is required (a map of fault point name -> settings)");
  else if (!isObj(doc.points)) c.add("points", "must be a map of fault point name -> settings");
  else {
    for (const [name, raw] of Object.entries(doc.points)) {
      const spec = parsePoint(name, raw, `points["${name}"]`, c);
      if (spec !== null) points.push(spec);
    }
  }
  if (c.list.length > 0) throw new PlanError(c.list, source);
  return { seed, windows, points };
}

/** JSON when it looks like JSON, else YAML (a superset): how plans arrive, in files and over the API. Throws the parser's error. */
export function parseJsonOrYaml(text: string): unknown {
  return /^\s*[{[]/.test(text) ? JSON.parse(text) : parseYaml(text);
}

/** The plan document in `text`, not yet validated; a text that does not parse is a PlanError. */
export function parsePlanDocument(text: string, source = "plan"): unknown {
  try {
    return parseJsonOrYaml(text);
  } catch (err) {
    throw new PlanError([{ path: "(file)", message: `does not parse: ${(err as Error).message}` }], source);
  }
}

export function parsePlanText(text: string, source = "plan"): FaultPlan {
  return validatePlan(parsePlanDocument(text, source), source);
}

/** A plan file's document (to merge --fault flags into), as a PlanError naming the file when it cannot be read or parsed. */
export function readPlanDocument(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new PlanError([{ path: "(file)", message: `cannot read: ${(err as Error).message}` }], path);
  }
  const doc = parsePlanDocument(text, path);
  if (!isObj(doc)) throw new PlanError([{ path: "(root)", message: "must be an object with points" }], path);
  return doc;
}

/** A plan file (YAML or JSON) checked whole: a PlanError lists every problem with its path. */
export function loadPlanFile(path: string): FaultPlan {
  return validatePlan(readPlanDocument(path), path);
}

/** One --fault flag: `NAME[:key=value,...]`, e.g. `queue.write:probability=0.05,errno=ENOSPC,after=data`
 * or `lookup.recipients:every=3,action=tempfail,latency=uniform(10ms,50ms)`. Values that look like
 * numbers or booleans are taken as such; commas inside parentheses do not split. */
export function parseFaultFlag(flag: string): [string, Record<string, unknown>] {
  const colon = flag.indexOf(":");
  const name = (colon < 0 ? flag : flag.slice(0, colon)).trim();
  const settings: Record<string, unknown> = {};
  if (colon < 0) return [name, settings];
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of flag.slice(colon + 1)) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur.trim() !== "") parts.push(cur);
  for (const part of parts) {
    const eq = part.indexOf("=");
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    const val = eq < 0 ? "true" : part.slice(eq + 1).trim();
    let v: unknown = val;
    if (val === "true") v = true;
    else if (val === "false") v = false;
    else if (/^-?\d+(\.\d+)?$/.test(val)) v = Number(val);
    if (key.startsWith("actions.")) {
      const actions = (settings.actions ?? {}) as Record<string, unknown>;
      actions[key.slice("actions.".length)] = v;
      settings.actions = actions;
    } else settings[key] = v;
  }
  return [name, settings];
}

/** Builds a plan document from CLI flags, merged over an optional file document (flags win per point). */
export function planDocFromFlags(
  flags: { faults: string[]; seed?: string; clean?: string; faultsWindow?: string; heal?: string },
  base: Record<string, unknown> = {},
): Record<string, unknown> {
  const doc: Record<string, unknown> = { ...base };
  const points = { ...(isObj(base.points) ? base.points : {}) };
  for (const f of flags.faults) {
    const [name, settings] = parseFaultFlag(f);
    points[name] = settings;
  }
  doc.points = points;
  if (flags.seed !== undefined) doc.seed = flags.seed;
  const windows = { ...(isObj(base.windows) ? base.windows : {}) };
  if (flags.clean !== undefined) windows.clean = flags.clean;
  if (flags.faultsWindow !== undefined) windows.faults = flags.faultsWindow;
  if (flags.heal !== undefined) windows.heal = flags.heal;
  if (Object.keys(windows).length > 0) doc.windows = windows;
  return doc;
}

/** A plan as JSON again (for reports and the control API). */
function describeLatency(l: Latency): string {
  switch (l.dist) {
    case "fixed":
      return `${l.ms}ms`;
    case "uniform":
      return `uniform(${l.min}ms,${l.max}ms)`;
    case "exponential":
      return `exp(${l.mean}ms)`;
    case "lognormal":
      return `lognormal(${Math.round(Math.exp(l.mu))}ms,${l.sigma})`;
  }
}

/** A call site: its stack hash over `depth` return addresses (syscall-shim.ts SITE_DEPTHS). */
export interface CallSiteId {
  hash: number;
  depth: SiteDepth;
}

/** A call site as people write it: 8 hex digits, then ":2" or ":4" unless hashed over 8 return addresses. */
export function callSiteText(s: CallSiteId): string {
  const hex = (s.hash >>> 0).toString(16).padStart(8, "0");
  return s.depth === 8 ? hex : `${hex}:${s.depth}`;
}

export function parseCallSite(v: unknown): CallSiteId | null {
  const text = typeof v === "number" ? String(v) : v;
  if (typeof text !== "string") return null;
  const m = /^([0-9a-f]{1,8})(?::([248]))?$/i.exec(text.trim());
  if (m === null) return null;
  const hash = Number.parseInt(m[1] as string, 16);
  if (hash === 0) return null;
  return { hash, depth: (m[2] === undefined ? 8 : Number(m[2])) as SiteDepth };
}

export function describeSpec(s: FaultSpec): string {
  const sched =
    s.schedule.kind === "probability" ? `p=${s.schedule.p}` :
    s.schedule.kind === "every" ? `every ${s.schedule.n}${s.schedule.offset !== s.schedule.n ? ` from ${s.schedule.offset}` : ""}` :
    s.schedule.kind === "once" ? `once at call ${s.schedule.at}` : "always";
  const acts = s.actions.map((a) => (s.actions.length > 1 ? `${a.action}:${a.weight}` : a.action)).join("/");
  const extra = [
    s.latency !== null ? describeLatency(s.latency) : null,
    // a delay-only point never fails with its errno
    s.errno !== null && s.actions.some((a) => a.action !== "delay") ? `${errnoName(s.errno)}${isTransient(s.errno) ? "" : ", not transient"}` : null,
    s.scope === "all" ? "every process of the role" : null,
    s.phase !== null ? `${s.phase.op} ${s.phase.phase}` : null,
    s.limit !== null ? `limit ${s.limit}` : null,
    s.stack !== undefined && s.stack !== null ? `call site ${callSiteText(s.stack)}` : null,
  ].filter((x) => x !== null);
  return `${s.name}: ${acts} ${sched}${extra.length > 0 ? ` (${extra.join(", ")})` : ""}`;
}
