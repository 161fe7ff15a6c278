// Persistence models: which of the operations before a crash point a power cut leaves on disk.
// Each model is one small unit: a name, what it promises, and a function from a crash point to
// the operations that survive (one set, or several sampled ones). After ALICE (OSDI 2014) and
// CrashMonkey (OSDI 2018): the trace is replayed under a model instead of crashing a real disk.
import type { LogicalOp, ObjId } from "./trace.js";
import { isMetadata, isSync } from "./trace.js";
import type { Rng } from "../../common/rng.js";

/** Which of ops[0..k) survive: survived[i] for each. */
export type Survivors = Uint8Array;

export interface PersistenceModel {
  readonly name: string;
  /** one line for help texts and reports */
  readonly summary: string;
  /**
   * The survivor sets of a crash after the first k operations: one for a deterministic model,
   * up to `samples` distinct ones for a sampled one (drawn from `rng`).
   */
  states(ops: readonly LogicalOp[], k: number, samples: number, rng: Rng): Survivors[];
  /** Why op i (< k) did not survive a crash at k under this model, for a finding's explanation. */
  why(ops: readonly LogicalOp[], i: number, k: number): string;
}

/** For each op, the index of the first later fsync of `obj` (datasync counts for data only), or Infinity. */
function nextSyncs(ops: readonly LogicalOp[], k: number): { file: (obj: ObjId, after: number, full: boolean) => number; dir: (obj: ObjId, after: number) => number } {
  const fileSyncs = new Map<ObjId, Array<{ i: number; full: boolean }>>();
  const dirSyncs = new Map<ObjId, number[]>();
  for (let i = 0; i < k; i++) {
    const op = ops[i] as LogicalOp;
    if (op.kind === "fsync") (fileSyncs.get(op.obj) ?? fileSyncs.set(op.obj, []).get(op.obj))?.push({ i, full: !op.datasync });
    else if (op.kind === "fsyncdir") (dirSyncs.get(op.obj) ?? dirSyncs.set(op.obj, []).get(op.obj))?.push(i);
  }
  return {
    file: (obj, after, full) => fileSyncs.get(obj)?.find((s) => s.i > after && (s.full || !full))?.i ?? Infinity,
    dir: (obj, after) => dirSyncs.get(obj)?.find((i) => i > after) ?? Infinity,
  };
}

/** The data of a file survives its fsync or fdatasync; its attributes only its fsync. */
function dataSynced(ops: readonly LogicalOp[], k: number, next = nextSyncs(ops, k)): (i: number) => boolean {
  return (i) => {
    const op = ops[i] as LogicalOp;
    if (op.kind === "write" || op.kind === "truncate") return next.file(op.obj, i, false) < k;
    if (op.kind === "attr") return next.file(op.obj, i, true) < k;
    return false;
  };
}

/** The last sync (of any file or directory) among ops[0..k): a journal commit covers every metadata operation before it. */
function lastBarrier(ops: readonly LogicalOp[], k: number): number {
  for (let i = k - 1; i >= 0; i--) if (isSync(ops[i] as LogicalOp)) return i;
  return -1;
}

const posix: PersistenceModel = {
  name: "posix",
  summary: "a file's data survives only up to its last fsync; a name (create, rename, link, unlink) only once its directory was fsynced",
  states(ops, k) {
    const next = nextSyncs(ops, k);
    const data = dataSynced(ops, k, next);
    const out = new Uint8Array(k);
    for (let i = 0; i < k; i++) {
      const op = ops[i] as LogicalOp;
      const keep =
        op.kind === "link" || op.kind === "unlink" ? next.dir(op.dir, i) < k
        : op.kind === "rename" ? next.dir(op.toDir, i) < k
        : data(i);
      out[i] = keep ? 1 : 0;
    }
    return [out];
  },
  why(ops, i) {
    const op = ops[i] as LogicalOp;
    if (op.kind === "link") return `its directory ${parentOf(op.created ? op.path : (op.path2 ?? ""))} was never fsynced after it`;
    if (op.kind === "unlink") return `its directory ${parentOf(op.path)} was never fsynced after it`;
    if (op.kind === "rename") return `its directory ${parentOf(op.path2 ?? "")} was never fsynced after it`;
    return "the file was never fsynced after it";
  },
};

const ext4Ordered: PersistenceModel = {
  name: "ext4-ordered",
  summary: "metadata survives as an ordered prefix, up to the last fsync of anything (a journal commit); a file's data only at its own fsync",
  states(ops, k) {
    const barrier = lastBarrier(ops, k);
    const data = dataSynced(ops, k);
    const out = new Uint8Array(k);
    for (let i = 0; i < k; i++) {
      const op = ops[i] as LogicalOp;
      out[i] = (isMetadata(op) && i < barrier) || (op.kind === "write" && data(i)) ? 1 : 0;
    }
    return [out];
  },
  why(ops, i) {
    const op = ops[i] as LogicalOp;
    if (isMetadata(op)) return "no fsync of anything came after it: the journal never committed it";
    return "the file was never fsynced after it";
  },
};

const reorder: PersistenceModel = {
  name: "reorder",
  summary: "what ext4-ordered guarantees, plus any subset of the operations no sync covers (ALICE's adversarial model, sampled with the seed)",
  states(ops, k, samples, rng) {
    const [base] = ext4Ordered.states(ops, k, 1, rng) as [Survivors];
    const open: number[] = [];
    for (let i = 0; i < k; i++) if (base[i] === 0 && !isSync(ops[i] as LogicalOp)) open.push(i);
    if (open.length === 0) return [base];
    // the state ext4-ordered leaves is one of them (nothing unsynced kept), then random subsets
    const out: Survivors[] = [base];
    const seen = new Set<string>([open.map(() => 0).join("")]);
    for (let s = 0; s < samples * 4 && out.length < samples; s++) {
      const pick = new Uint8Array(base);
      for (const i of open) if (rng.next() < 0.5) pick[i] = 1;
      const key = open.map((i) => pick[i]).join("");
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(pick);
    }
    return out;
  },
  why() {
    return "no sync covered it, and this sampled state dropped it";
  },
};

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** The models by name, in the order reports list them. One line here registers one. */
export const MODELS: readonly PersistenceModel[] = [posix, ext4Ordered, reorder];

export function modelNamed(name: string): PersistenceModel | undefined {
  return MODELS.find((m) => m.name === name);
}
