// The persistence models on recorded traces of the five ways a server can commit a message
// (written by hand in the recording's format): which lose an acknowledged message under which
// model, and that each explanation names the missing fsync. The same seed gives the same states.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { FsOp } from "../../targets/process/recfs.js";
import { buildTrace, type Birth, type ObjId, type Snapshot, type Trace } from "../../monkey/crash/trace.js";
import { MODELS, modelNamed, type PersistenceModel } from "../../monkey/crash/models.js";
import { crashPoints, explainLoss, judgeState, modelStates, type Recovery } from "../../monkey/crash/states.js";
import { crashTree, treeHash, walkTree } from "../../monkey/crash/tree.js";

const TRAILER = "\n.END\n";
const dir = (mode = 0o755): Birth => ({ kind: "dir", mode, uid: 0, gid: 0 });

/** queue/{tmp,new} and Maildir/new, all there before the run (inodes 100+). */
function first(): { snapshot: Snapshot; inodes: Map<ObjId, number> } {
  const births = new Map<ObjId, Birth>([[0, dir()], [1, dir()], [2, dir()], [3, dir()], [4, dir()], [5, dir()]]);
  const entries = new Map<ObjId, Map<string, ObjId>>([
    [0, new Map([["queue", 1], ["Maildir", 4]])],
    [1, new Map([["tmp", 2], ["new", 3]])],
    [2, new Map()],
    [3, new Map()],
    [4, new Map([["new", 5]])],
    [5, new Map()],
  ]);
  return { snapshot: { root: 0, births, entries, data: new Map() }, inodes: new Map([0, 1, 2, 3, 4, 5].map((i) => [i, 100 + i])) };
}

type Mode = "nosync" | "inplace-fsync" | "tmp-rename-dirsync" | "tmp-rename-nodirsync" | "rename-nosync-file";

/** One server's operations for messages m0..m(n-1), each acknowledged right after its commit. */
function traceOf(mode: Mode, n = 3): Trace {
  const ops: FsOp[] = [];
  const acks = new Map<string, bigint>();
  let t = 1000n;
  let ino = 200;
  const op = (o: Omit<FsOp, "seq" | "at" | "pid">): void => void ops.push({ seq: ops.length, at: (t += 10n), pid: 42, ...o } as FsOp);
  for (let i = 0; i < n; i++) {
    const id = `c1-${i}`;
    const data = Buffer.from(`X-Smtpchaos-Id: ${id}\n\nhello${TRAILER}`);
    const f = ino++;
    const at = mode === "nosync" || mode === "inplace-fsync" ? `/queue/new/${id}` : `/queue/tmp/${id}`;
    op({ kind: "create", path: at, ino: f, mode: 0o100600, uid: 8, gid: 8 });
    op({ kind: "write", path: at, ino: f, offset: 0, length: data.length, data });
    if (mode !== "nosync" && mode !== "rename-nosync-file") op({ kind: "fsync", path: at, ino: f, datasync: false });
    if (mode.includes("rename")) op({ kind: "rename", path: at, path2: `/queue/new/${id}`, ino: f });
    if (mode === "tmp-rename-dirsync" || mode === "rename-nosync-file") op({ kind: "fsyncdir", path: "/queue/new", ino: 103 });
    acks.set(id, (t += 5n));
  }
  const { snapshot, inodes } = first();
  return buildTrace(snapshot, inodes, ops, acks, new Set(acks.keys()), ["queue", "Maildir"]);
}

/** What such a server recovers: every complete queue file (a trailer at its end) is delivered once. */
function recover(trace: Trace, k: number, survived: Uint8Array): Recovery {
  const tree = crashTree(trace, k, survived);
  const copies = new Map<string, number>();
  for (const e of walkTree(tree)) {
    if (!e.path.startsWith("queue/new/") || e.birth.kind !== "file") continue;
    const text = (tree.data.get(e.obj) ?? Buffer.alloc(0)).toString();
    const id = /X-Smtpchaos-Id: (\S+)/.exec(text)?.[1];
    if (id !== undefined && text.endsWith(TRAILER)) copies.set(id, (copies.get(id) ?? 0) + 1);
  }
  return { startError: null, copies, bounced: new Set(), queued: new Set(), queueSize: 0 };
}

function losses(mode: Mode, model: PersistenceModel): { lost: Set<string>; explanations: string[] } {
  const trace = traceOf(mode);
  const lost = new Set<string>();
  const explanations: string[] = [];
  for (const s of modelStates(trace, model, 7, 1000).states) {
    const v = judgeState(trace, s, recover(trace, s.point.k, s.survived));
    for (const id of v.lost) {
      lost.add(id);
      explanations.push(...explainLoss(trace, s, model, id));
    }
  }
  return { lost, explanations };
}

const model = (name: string): PersistenceModel => modelNamed(name) as PersistenceModel;

test("crash models: a server that never fsyncs loses acknowledged mail under every model", () => {
  for (const m of MODELS) {
    const r = losses("nosync", m);
    assert.equal(r.lost.size, 3, m.name);
    assert.ok(r.explanations.some((e) => /never fsynced|never committed|dropped it/.test(e)), `${m.name}: ${r.explanations.join("\n")}`);
  }
});

test("crash models: creating the queue file in place and fsyncing it, never its directory (Postfix's way), loses mail under posix only", () => {
  const posix = losses("inplace-fsync", model("posix"));
  assert.equal(posix.lost.size, 3);
  assert.ok(posix.explanations.some((e) => /^create \/queue\/new\/c1-0 \(#0\): its directory \/queue\/new was never fsynced after it$/.test(e)), posix.explanations.join("\n"));
  assert.equal(losses("inplace-fsync", model("ext4-ordered")).lost.size, 0);
  assert.equal(losses("inplace-fsync", model("reorder")).lost.size, 0);
});

test("crash models: temporary file, fsync, rename, fsync of the queue directory, then 250 loses nothing", () => {
  for (const m of MODELS) assert.equal(losses("tmp-rename-dirsync", m).lost.size, 0, m.name);
});

test("crash models: a rename after the last fsync without a directory fsync loses mail under ext4-ordered too", () => {
  const posix = losses("tmp-rename-nodirsync", model("posix"));
  assert.equal(posix.lost.size, 3);
  assert.ok(posix.explanations.some((e) => /^rename \/queue\/tmp\/c1-\d -> \/queue\/new\/c1-\d \(#\d+\): its directory \/queue\/new was never fsynced after it$/.test(e)), posix.explanations.join("\n"));
  const ext4 = losses("tmp-rename-nodirsync", model("ext4-ordered"));
  // the next message's fsync commits the rename before it: only the last one is lost for good
  assert.ok(ext4.lost.has("c1-2"), [...ext4.lost].join(","));
  assert.ok(ext4.explanations.some((e) => /^rename .*: no fsync of anything came after it: the journal never committed it$/.test(e)), ext4.explanations.join("\n"));
  assert.ok(losses("tmp-rename-nodirsync", model("reorder")).lost.size > 0);
});

test("crash models: a file renamed into place whose data was never fsynced comes back empty (every model)", () => {
  for (const m of MODELS) {
    const r = losses("rename-nosync-file", m);
    assert.equal(r.lost.size, 3, m.name);
    if (m.name !== "reorder") assert.ok(r.explanations.some((e) => /^write \/queue\/tmp\/c1-\d \(\d+ bytes at 0\) \(#\d+\): the file was never fsynced after it$/.test(e)), r.explanations.join("\n"));
  }
});

test("crash points: after each fsync, directory fsync and rename, right after each 250, and at the end", () => {
  const trace = traceOf("tmp-rename-dirsync", 2);
  const labels = crashPoints(trace).map((p) => p.label);
  assert.deepEqual(labels, [
    "after fsync /queue/tmp/c1-0",
    "after rename /queue/tmp/c1-0 -> /queue/new/c1-0",
    "after fsync directory /queue/new",
    "after fsync /queue/tmp/c1-1",
    "after rename /queue/tmp/c1-1 -> /queue/new/c1-1",
    "after fsync directory /queue/new",
  ]);
  // the 250s come right after the directory fsync: same prefix, one point each, and the end is the last
  assert.equal(crashPoints(trace).at(-1)?.k, trace.ops.length);
});

test("crash states: identical trees are tried once; the same seed gives the same states, another seed other samples", () => {
  const trace = traceOf("nosync", 4);
  const a = modelStates(trace, model("reorder"), 11, 1000).states.map((s) => s.hash);
  const b = modelStates(trace, model("reorder"), 11, 1000).states.map((s) => s.hash);
  const c = modelStates(trace, model("reorder"), 12, 1000).states.map((s) => s.hash);
  assert.deepEqual(a, b);
  assert.equal(new Set(a).size, a.length, "no state twice");
  assert.notDeepEqual(a, c);
  // posix: nothing of a never-syncing server survives: one state, the first one
  const p = modelStates(trace, model("posix"), 11, 1000);
  assert.equal(p.states.length, 1);
  assert.equal(p.states[0]?.hash, treeHash(crashTree(trace, 0, new Uint8Array(0))));
  // the bound holds and says so
  const bounded = modelStates(trace, model("reorder"), 11, 3);
  assert.equal(bounded.states.length, 3);
  assert.equal(bounded.truncated, true);
});
