// Failure IDs (FATE's failure identity): a call site of the MTA (its point, role, call and stack
// hash), the SMTP phase in flight when it was reached, and one way it can fail (an errno the call
// can return, a delay, a kill). Each ID is the plan entry that fails that site once. Pure: the
// same sites give the same IDs in the same order.
import { kindOf } from "../layers/registry.js";
import { errnosOf } from "../errnos.js";
import { callSiteText, type CallSiteId } from "../plan.js";
import { SWEEP_PHASES, type SweepPhase } from "./phases.js";

/** A place the MTA reached while a profiled transaction was in a phase. */
export interface CallSite {
  /** the point a failure there is planned at: sys.queue.write, queue.write, lookup.recipients, kill.queue */
  point: string;
  /** the process role (sys.*, kill.*); null for a point with no role (in-process hooks, lookups) */
  role: string | null;
  /** the call (sys.*: write, fsync...); the point itself elsewhere */
  call: string;
  /** the call site (its stack hash); null where the mechanism does not tell call sites apart */
  stack: CallSiteId | null;
  phase: SweepPhase;
  /** how many times the profile saw it (all profiled transactions together) */
  calls: number;
}

export interface FailureId {
  /** e.g. sys.queue.write@1a2b3c4d/rcpt/ENOSPC, queue.fsync/dot/EIO, kill.queue/data/kill */
  id: string;
  site: CallSite;
  /** ENOSPC, tempfail, kill, delay 6s */
  failure: string;
  /** the plan settings that fail the site once (with its stack hash) */
  settings: Record<string, unknown>;
}

export interface FailureChoice {
  /** every errno each call can return, instead of the transient few that matter most */
  allErrnos?: boolean;
  /** also a delay of this long at each site (past the MTA's own timeout, to find what a hang does) */
  delayMs?: number | null;
}

/** The errnos a sweep tries by default: the transient failures a disk, a channel or a peer really gives. */
const DEFAULT_ERRNOS: Readonly<Record<string, readonly string[]>> = {
  write: ["EIO", "ENOSPC"],
  read: ["EIO"],
  fsync: ["EIO", "ENOSPC"],
  fdatasync: ["EIO", "ENOSPC"],
  rename: ["EIO", "ENOSPC"],
  open: ["EIO", "ENOSPC", "EMFILE"],
  unlink: ["EIO"],
  mkdir: ["EIO", "ENOSPC"],
  ftruncate: ["EIO"],
  connect: ["ECONNREFUSED", "ETIMEDOUT"],
  accept: ["EMFILE", "ECONNABORTED"],
  sendfile: ["EIO"],
  alloc: ["ENOMEM"],
};

/** What a point without an errno can answer that is a failure a correct MTA must survive. */
const TRANSIENT_ACTIONS = new Set(["tempfail", "timeout", "garbage", "exit", "error"]);

export function failureIdName(site: Pick<CallSite, "point" | "stack" | "phase">, failure: string): string {
  return `${site.point}${site.stack !== null ? `@${callSiteText(site.stack)}` : ""}/${site.phase}/${failure}`;
}

/** The failures of one site; [] for a point the sweep cannot fail (unknown kind). */
export function failuresOf(site: CallSite, choice: FailureChoice = {}): FailureId[] {
  const kind = kindOf(site.point);
  if (kind === null) return [];
  const once = { once: true, ...(site.stack !== null ? { stack: callSiteText(site.stack) } : {}) };
  const out: Array<[string, Record<string, unknown>]> = [];
  const delay = choice.delayMs ?? null;
  if (kind.family === "kill") out.push(["kill", { once: true, interval: "10ms" }]);
  else if (kind.family === "pause") {
    if (delay !== null) out.push([`pause ${delay}ms`, { once: true, interval: "10ms", duration: `${delay}ms` }]);
  } else if (kind.errno === true) {
    const call = kind.callOf?.(site.point) ?? site.call;
    const errnos = choice.allErrnos === true ? (errnosOf(call) ?? ["EIO"]) : (DEFAULT_ERRNOS[call] ?? ["EIO"]);
    const act = kind.actions.includes("error") ? { action: "error" } : {};
    for (const e of errnos) out.push([e, { ...once, ...act, errno: e }]);
    if (delay !== null && kind.actions.includes("delay")) out.push([`delay ${delay}ms`, { ...once, action: "delay", latency: `${delay}ms` }]);
  } else {
    const actions = kind.actions.filter((a) => (choice.allErrnos === true ? a !== "delay" && a !== "latency" : TRANSIENT_ACTIONS.has(a)));
    for (const a of actions) out.push([a, { ...once, ...(kind.namedAction === true ? {} : { action: a }) }]);
    if (delay !== null && kind.actions.includes("delay")) out.push([`delay ${delay}ms`, { ...once, action: "delay", latency: `${delay}ms` }]);
  }
  return out.map(([failure, settings]) => ({ id: failureIdName(site, failure), site, failure, settings }));
}

/** Every failure of every site, in a stable order: by phase, then point, call site and failure. */
export function failureIds(sites: readonly CallSite[], choice: FailureChoice = {}): FailureId[] {
  const order = (p: SweepPhase): number => SWEEP_PHASES.indexOf(p);
  const key = (s: CallSite): string => (s.stack === null ? "" : callSiteText(s.stack));
  const sorted = [...sites].sort((a, b) => order(a.phase) - order(b.phase) || a.point.localeCompare(b.point) || key(a).localeCompare(key(b)));
  return sorted.flatMap((s) => failuresOf(s, choice));
}

/** A point glob as people write it (sys.queue.*, kill.*, *.fsync): `*` is any run of characters. */
export function globMatcher(globs: readonly string[]): (point: string) => boolean {
  const res = globs.map((g) => new RegExp(`^${g.split("*").map((x) => x.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`));
  return (point) => res.some((r) => r.test(point));
}
