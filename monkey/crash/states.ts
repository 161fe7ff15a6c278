// Crash points (after each fsync, directory fsync and rename, right after each 250, and at the
// end), the distinct states a model leaves at them, and what a state owes the client: every
// message acknowledged before the crash delivered exactly once. A finding is explained by the
// operations of the lost message's files that did not survive, and why.
import { Rng } from "../../common/rng.js";
import type { PersistenceModel, Survivors } from "./models.js";
import type { LogicalOp, ObjId, Trace } from "./trace.js";
import { isSync } from "./trace.js";
import { crashTree, treeHash, walkTree } from "./tree.js";

export interface CrashPoint {
  /** the crash comes after the first k operations */
  k: number;
  /** what happened just before it, for people */
  label: string;
}

/** The crash points of a trace, in order, one per distinct k. */
export function crashPoints(trace: Trace): CrashPoint[] {
  const ops = trace.ops;
  const at = new Map<number, string>();
  const add = (k: number, label: string): void => {
    if (!at.has(k)) at.set(k, label);
  };
  for (const op of ops) {
    if (isSync(op) || op.kind === "rename") add(op.i + 1, `after ${describeOp(op)}`);
  }
  for (const [id, t] of trace.acks) add(opsBefore(ops, t), `right after the 250 of ${id}`);
  add(ops.length, "after the whole run");
  return [...at.entries()].sort((a, b) => a[0] - b[0]).map(([k, label]) => ({ k, label }));
}

/** How many operations completed before time t (the trace is in completion order). */
function opsBefore(ops: readonly LogicalOp[], t: bigint): number {
  let lo = 0;
  let hi = ops.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((ops[mid] as LogicalOp).at < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The messages a crash at k must not lose: those whose 250 came before the operation after it. */
export function ackedBefore(trace: Trace, k: number): string[] {
  const next = trace.ops[k]?.at;
  return [...trace.acks.entries()].filter(([, t]) => next === undefined || t < next).map(([id]) => id);
}

export interface CrashState {
  model: string;
  /** its number in the model's list, from 1 (what a replay names) */
  n: number;
  hash: string;
  /** the latest crash point leaving this state: the one that owes the most acknowledged mail */
  point: CrashPoint;
  /** how many crash points leave it */
  points: number;
  /** the sample at that point (sampled models; 0 otherwise) */
  sample: number;
  survived: Survivors;
}

export interface ModelStates {
  model: string;
  crashPoints: number;
  states: CrashState[];
  /** more distinct states than --states: these are taken evenly across the run */
  truncated: boolean;
  /** distinct states the model leaves, tried or not */
  distinct: number;
}

/**
 * The distinct states of one model, identical ones once (the same trace, seed and bound give the
 * same list). Past `maxStates`, states are taken evenly across the run's crash points, so a bound
 * never leaves the end of the run untried.
 */
export function modelStates(trace: Trace, model: PersistenceModel, seed: number, maxStates: number, samplesPerPoint = 4): ModelStates {
  const points = crashPoints(trace);
  const byHash = new Map<string, Omit<CrashState, "n">>();
  for (const point of points) {
    const rng = new Rng(seed, `crash.${model.name}.${point.k}`);
    const sets = model.states(trace.ops, point.k, samplesPerPoint, rng);
    for (const [sample, survived] of sets.entries()) {
      const hash = treeHash(crashTree(trace, point.k, survived));
      const had = byHash.get(hash);
      if (had !== undefined) Object.assign(had, { point, sample, survived, points: had.points + 1 });
      else byHash.set(hash, { model: model.name, hash, point, points: 1, sample, survived });
    }
  }
  const all = [...byHash.values()];
  const truncated = all.length > maxStates;
  const kept = truncated ? Array.from({ length: maxStates }, (_, i) => all[Math.floor((i * all.length) / maxStates)] as Omit<CrashState, "n">) : all;
  return { model: model.name, crashPoints: points.length, states: kept.map((s, i) => ({ ...s, n: i + 1 })), truncated, distinct: all.length };
}

/** What the MTA delivered after recovering from one state. */
export interface Recovery {
  /** the MTA did not start on the state (a finding): why */
  startError: string | null;
  /** ledger id -> copies delivered (bounces apart) */
  copies: Map<string, number>;
  bounced: Set<string>;
  /** ids still queued after the drain, null when the queue cannot be listed */
  queued: Set<string> | null;
  queueSize: number;
}

export interface StateVerdict {
  acked: number;
  lost: string[];
  /** acknowledged, still queued after recovery and the drain */
  stuck: string[];
  duplicates: Array<{ id: string; copies: number }>;
  startError: string | null;
}

export function judgeState(trace: Trace, state: CrashState, r: Recovery): StateVerdict {
  const acked = ackedBefore(trace, state.point.k);
  const lost: string[] = [];
  const stuck: string[] = [];
  if (r.startError === null) {
    for (const id of acked) {
      if ((r.copies.get(id) ?? 0) > 0 || r.bounced.has(id)) continue;
      if (r.queued?.has(id) === true || (r.queued === null && r.queueSize > 0)) stuck.push(id);
      else lost.push(id);
    }
  }
  const duplicates = [...r.copies.entries()].filter(([, n]) => n > 1).map(([id, copies]) => ({ id, copies }));
  return { acked: acked.length, lost, stuck, duplicates, startError: r.startError };
}

export function stateHasFinding(v: StateVerdict): boolean {
  return v.startError !== null || v.lost.length > 0 || v.duplicates.length > 0;
}

/** One line per recorded operation, as it was done. */
export function describeOp(op: LogicalOp): string {
  const p = op.path === "" ? "(an unlinked file)" : op.path;
  switch (op.kind) {
    case "link":
      return op.created ? `${op.made === "dir" ? "mkdir" : op.made === "symlink" ? "symlink" : op.made === "file" || op.made === undefined ? "create" : `mknod (${op.made})`} ${p}` : `link ${p} -> ${op.path2 ?? "?"}`;
    case "unlink":
      return `unlink ${p}`;
    case "rename":
      return `rename ${p} -> ${op.path2 ?? "?"}`;
    case "write":
      return `write ${p} (${op.data.length} bytes at ${op.offset})`;
    case "truncate":
      return `truncate ${p} to ${op.size}`;
    case "attr":
      return `${op.mode !== undefined ? `chmod ${op.mode.toString(8)}` : "chown"} ${p}`;
    case "fsync":
      return `${op.datasync ? "fdatasync" : "fsync"} ${p}`;
    case "fsyncdir":
      return `fsync directory ${p}`;
  }
}

/**
 * Why a message is missing from a state: the operations on the files that held its id (found by
 * the id in their written data) that did not survive, each with the model's reason.
 */
export function explainLoss(trace: Trace, state: CrashState, model: PersistenceModel, id: string, max = 3): string[] {
  const k = state.point.k;
  const needle = Buffer.from(id);
  const objs = new Set<ObjId>();
  for (let i = 0; i < k; i++) {
    const op = trace.ops[i] as LogicalOp;
    if (op.kind === "write" && op.data.includes(needle)) objs.add(op.obj);
  }
  if (objs.size === 0) return [`no file held ${id} before the crash: it was written after it, or the MTA kept it elsewhere`];
  // a name lost is the last one the file was given (an unlink takes one away: that duplicates, it
  // loses nothing); its data matters only where it is on disk; a name in a directory that is not
  // there is lost with the directory
  const tree = crashTree(trace, k, state.survived);
  const present = new Set(walkTree(tree).map((e) => e.obj));
  const namedBy = (obj: ObjId): number | undefined => {
    let last: number | undefined;
    for (let i = 0; i < k; i++) {
      const op = trace.ops[i] as LogicalOp;
      if ((op.kind === "link" || op.kind === "rename") && op.obj === obj) last = i;
    }
    return last;
  };
  const lastName = new Map<ObjId, number>();
  for (const o of objs) {
    const i = namedBy(o);
    if (i !== undefined) lastName.set(o, i);
  }
  // root causes first: a directory above that was lost, then lost names, then lost data
  const found = new Map<number, number>();
  const note = (i: number, rank: number): void => {
    if (!found.has(i) || (found.get(i) as number) > rank) found.set(i, rank);
  };
  for (let i = 0; i < k; i++) {
    const op = trace.ops[i] as LogicalOp;
    if (state.survived[i] === 1 || isSync(op) || op.kind === "unlink" || !("obj" in op) || !objs.has(op.obj)) continue;
    const nameOp = op.kind === "link" || op.kind === "rename";
    if (nameOp ? lastName.get(op.obj) !== i : !present.has(op.obj)) continue;
    note(i, nameOp ? 1 : 2);
  }
  // its last name survived, yet it is not there: a directory above it was lost
  for (const [o, i] of lastName) {
    if (present.has(o) || state.survived[i] !== 1) continue;
    const op = trace.ops[i] as LogicalOp;
    let dir = op.kind === "rename" ? op.toDir : op.kind === "link" ? op.dir : null;
    for (let guard = 0; dir !== null && dir !== tree.root && guard < 64; guard++) {
      const made = namedBy(dir);
      if (!present.has(dir) && made !== undefined && state.survived[made] !== 1) {
        note(made, 0);
        break;
      }
      const upOp = made === undefined ? undefined : (trace.ops[made] as LogicalOp);
      dir = upOp?.kind === "rename" ? upOp.toDir : upOp?.kind === "link" ? upOp.dir : null;
    }
  }
  const out = [...found.entries()]
    .sort((a, b) => a[1] - b[1] || a[0] - b[0])
    .slice(0, max)
    .map(([i]) => `${describeOp(trace.ops[i] as LogicalOp)} (#${i}): ${model.why(trace.ops, i, k)}`);
  if (out.length === 0) out.push(`every operation on its files survived: the MTA did not recover it (see its log)`);
  return out;
}

/** The number a state has in a model's list, and its replay's arguments. */
export function stateRef(s: CrashState): string {
  return `${s.model}:${s.n}`;
}

