// A recorded run as the crash models see it: the durable directories' first state, then every
// operation on them as a logical operation on objects (one id per file or directory, stable across
// renames and inode reuse), each naming the directories whose fsync makes its name durable.
import type { FsOp } from "../../targets/process/recfs.js";

/** A file-system object of the trace: a number, stable for the object's whole life. */
export type ObjId = number;

export type ObjKind = "file" | "dir" | "symlink" | "fifo" | "socket";

/** What an object was born with: a node materializes with it when any operation that survived touches it. */
export interface Birth {
  kind: ObjKind;
  mode: number;
  uid: number;
  gid: number;
  /** a symlink's target */
  target?: string;
}

/** The durable directories' state before the MTA ran (everything in it survives any crash). */
export interface Snapshot {
  /** the root's object (the recording mount's root, whose entries are the durable directories) */
  root: ObjId;
  births: Map<ObjId, Birth>;
  entries: Map<ObjId, Map<string, ObjId>>;
  data: Map<ObjId, Buffer>;
}

interface Base {
  /** index in the trace */
  i: number;
  /** CLOCK_MONOTONIC ns at completion */
  at: bigint;
  pid: number;
  /** the recorded operation's path(s), for explanations */
  path: string;
  path2?: string;
}

/** Operations as the crash models reason about them. */
export type LogicalOp = Base &
  (
    | { kind: "link"; dir: ObjId; name: string; obj: ObjId; created: boolean; made?: ObjKind }
    | { kind: "unlink"; dir: ObjId; name: string; obj: ObjId }
    | { kind: "rename"; fromDir: ObjId; fromName: string; toDir: ObjId; toName: string; obj: ObjId; exchange: boolean; replaced: ObjId | null }
    | { kind: "write"; obj: ObjId; offset: number; data: Buffer }
    | { kind: "truncate"; obj: ObjId; size: number }
    | { kind: "attr"; obj: ObjId; mode?: number; uid?: number; gid?: number }
    | { kind: "fsync"; obj: ObjId; datasync: boolean }
    | { kind: "fsyncdir"; obj: ObjId }
  );

/** Metadata: a name or an inode attribute. Data: file contents (and the size they imply). */
export function isMetadata(op: LogicalOp): boolean {
  return op.kind === "link" || op.kind === "unlink" || op.kind === "rename" || op.kind === "attr" || op.kind === "truncate";
}

export function isSync(op: LogicalOp): op is LogicalOp & { kind: "fsync" | "fsyncdir" } {
  return op.kind === "fsync" || op.kind === "fsyncdir";
}

/** The trace could not be followed (an operation on a path the trace never created): the recording is incomplete. */
export class TraceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TraceError";
  }
}

const S_IFMT = 0o170000;
function kindOfMode(mode: number): ObjKind {
  switch (mode & S_IFMT) {
    case 0o040000:
      return "dir";
    case 0o120000:
      return "symlink";
    case 0o010000:
      return "fifo";
    case 0o140000:
      return "socket";
    default:
      return "file";
  }
}

/** Follows the recorded operations over the live tree, turning paths and inode numbers into objects. */
export class TraceBuilder {
  private next: ObjId;
  /** the live tree, as the MTA saw it */
  private readonly entries = new Map<ObjId, Map<string, ObjId>>();
  /** backing inode number -> the object living in it now */
  private readonly byIno = new Map<number, ObjId>();
  readonly births = new Map<ObjId, Birth>();
  readonly ops: LogicalOp[] = [];

  constructor(readonly snapshot: Snapshot, inodes: Map<ObjId, number>) {
    this.next = Math.max(0, ...snapshot.births.keys()) + 1;
    for (const [id, b] of snapshot.births) this.births.set(id, b);
    for (const [dir, e] of snapshot.entries) this.entries.set(dir, new Map(e));
    for (const [id, ino] of inodes) this.byIno.set(ino, id);
  }

  private split(path: string): { dir: ObjId; name: string } {
    const parts = path.split("/").filter((p) => p !== "");
    const name = parts.pop();
    if (name === undefined) throw new TraceError(`an operation on the mount's root: ${path}`);
    let dir = this.snapshot.root;
    for (const p of parts) {
      const child = this.entries.get(dir)?.get(p);
      if (child === undefined) throw new TraceError(`${path}: "${p}" is not in the recorded tree`);
      dir = child;
    }
    return { dir, name };
  }

  /** The object an fd or path operation acted on: by its inode (it may be unlinked and still open), else by path. */
  private objOf(op: FsOp): ObjId {
    const byIno = this.byIno.get(op.ino);
    if (byIno !== undefined) return byIno;
    if (op.path === "") throw new TraceError(`#${op.seq} ${op.kind}: inode ${op.ino} was never seen`);
    const { dir, name } = this.split(op.path);
    const obj = this.entries.get(dir)?.get(name);
    if (obj === undefined) throw new TraceError(`#${op.seq} ${op.kind} ${op.path}: not in the recorded tree`);
    this.byIno.set(op.ino, obj);
    return obj;
  }

  add(op: FsOp): void {
    const base: Base = { i: this.ops.length, at: op.at, pid: op.pid, path: op.path, ...(op.path2 !== undefined ? { path2: op.path2 } : {}) };
    switch (op.kind) {
      case "create":
      case "mknod":
      case "mkdir":
      case "symlink": {
        const { dir, name } = this.split(op.path);
        const obj = this.next++;
        const kind: ObjKind = op.kind === "mkdir" ? "dir" : op.kind === "symlink" ? "symlink" : op.kind === "create" ? "file" : kindOfMode(op.mode ?? 0);
        this.births.set(obj, { kind, mode: (op.mode ?? 0) & 0o7777, uid: op.uid ?? 0, gid: op.gid ?? 0, ...(op.kind === "symlink" && op.path2 !== undefined ? { target: op.path2 } : {}) });
        if (kind === "dir") this.entries.set(obj, new Map());
        this.entries.get(dir)?.set(name, obj);
        this.byIno.set(op.ino, obj);
        this.ops.push({ ...base, kind: "link", dir, name, obj, created: true, made: kind });
        return;
      }
      case "link": {
        const obj = this.objOf(op);
        const { dir, name } = this.split(op.path2 ?? "");
        this.entries.get(dir)?.set(name, obj);
        this.ops.push({ ...base, kind: "link", dir, name, obj, created: false });
        return;
      }
      case "unlink":
      case "rmdir": {
        const { dir, name } = this.split(op.path);
        const obj = this.entries.get(dir)?.get(name);
        if (obj === undefined) throw new TraceError(`#${op.seq} ${op.kind} ${op.path}: not in the recorded tree`);
        this.entries.get(dir)?.delete(name);
        this.ops.push({ ...base, kind: "unlink", dir, name, obj });
        return;
      }
      case "rename": {
        const from = this.split(op.path);
        const to = this.split(op.path2 ?? "");
        const obj = this.entries.get(from.dir)?.get(from.name);
        if (obj === undefined) throw new TraceError(`#${op.seq} rename ${op.path}: not in the recorded tree`);
        const replaced = this.entries.get(to.dir)?.get(to.name) ?? null;
        const exchange = ((op.renameFlags ?? 0) & 2) !== 0;
        this.entries.get(from.dir)?.delete(from.name);
        if (exchange && replaced !== null) this.entries.get(from.dir)?.set(from.name, replaced);
        this.entries.get(to.dir)?.set(to.name, obj);
        this.ops.push({ ...base, kind: "rename", fromDir: from.dir, fromName: from.name, toDir: to.dir, toName: to.name, obj, exchange, replaced: replaced === obj ? null : replaced });
        return;
      }
      case "write":
        this.ops.push({ ...base, kind: "write", obj: this.objOf(op), offset: op.offset ?? 0, data: op.data ?? Buffer.alloc(0) });
        return;
      case "truncate":
      case "fallocate": {
        const obj = this.objOf(op);
        // fallocate only ever grows a file (its new size is offset + length); truncate sets it
        if (op.kind === "truncate") this.ops.push({ ...base, kind: "truncate", obj, size: op.offset ?? 0 });
        return;
      }
      case "chmod":
        this.ops.push({ ...base, kind: "attr", obj: this.objOf(op), mode: (op.mode ?? 0) & 0o7777 });
        return;
      case "chown":
        this.ops.push({ ...base, kind: "attr", obj: this.objOf(op), ...(op.uid !== undefined ? { uid: op.uid } : {}), ...(op.gid !== undefined ? { gid: op.gid } : {}) });
        return;
      case "fsync":
        this.ops.push({ ...base, kind: "fsync", obj: this.objOf(op), datasync: op.datasync === true });
        return;
      case "fsyncdir":
        this.ops.push({ ...base, kind: "fsyncdir", obj: this.objOf(op) });
        return;
      case "utimens":
        return; // times are not what a crash loses mail over
    }
  }
}

/** A whole recorded run: its first state, its operations, and when each message's 250 arrived. */
export interface Trace {
  snapshot: Snapshot;
  births: Map<ObjId, Birth>;
  ops: LogicalOp[];
  /** ledger id -> CLOCK_MONOTONIC ns at which the client read the 250 after its final dot */
  acks: Map<string, bigint>;
  /** ledger ids whose final dot was written (acknowledged or not): the only ones that may be delivered */
  sent: Set<string>;
  /** the instance-relative durable directories (the mount root's entries) */
  durable: string[];
}

export function buildTrace(snapshot: Snapshot, inodes: Map<ObjId, number>, fsops: readonly FsOp[], acks: Map<string, bigint>, sent: Set<string>, durable: string[]): Trace {
  const b = new TraceBuilder(snapshot, inodes);
  for (const op of fsops) b.add(op);
  return { snapshot, births: b.births, ops: b.ops, acks, sent, durable };
}
