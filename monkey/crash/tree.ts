// The directory tree a crash leaves: the first state, then the operations that survived, applied
// in order. An object appears once any surviving operation touches it (a file whose creation was
// lost but whose rename into a synced directory survived is there, as on a real disk); names in a
// directory that did not survive go with it. Hashed to try identical states once; written out.
import { createHash } from "node:crypto";
import { chmod, chown, lchown, link, mkdir, symlink, writeFile } from "node:fs/promises";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import type { Birth, LogicalOp, ObjId, Trace } from "./trace.js";
import type { Survivors } from "./models.js";

const run = promisify(execFile);

export interface CrashTree {
  root: ObjId;
  births: Map<ObjId, Birth>;
  entries: Map<ObjId, Map<string, ObjId>>;
  data: Map<ObjId, Buffer>;
  attrs: Map<ObjId, { mode: number; uid: number; gid: number }>;
}

function write(buf: Buffer | undefined, offset: number, data: Buffer): Buffer {
  const cur = buf ?? Buffer.alloc(0);
  const end = offset + data.length;
  const out = end > cur.length ? Buffer.concat([cur, Buffer.alloc(end - cur.length)]) : Buffer.from(cur);
  data.copy(out, offset);
  return out;
}

function resize(buf: Buffer | undefined, size: number): Buffer {
  const cur = buf ?? Buffer.alloc(0);
  return size <= cur.length ? cur.subarray(0, size) : Buffer.concat([cur, Buffer.alloc(size - cur.length)]);
}

/** The tree after ops[0..k) of which `survived` kept some. */
export function crashTree(trace: Trace, k: number, survived: Survivors): CrashTree {
  const s = trace.snapshot;
  const t: CrashTree = { root: s.root, births: trace.births, entries: new Map(), data: new Map(s.data), attrs: new Map() };
  for (const [dir, e] of s.entries) t.entries.set(dir, new Map(e));
  const dirOf = (obj: ObjId): Map<string, ObjId> | undefined => {
    if (trace.births.get(obj)?.kind !== "dir") return undefined;
    let e = t.entries.get(obj);
    if (e === undefined) t.entries.set(obj, (e = new Map()));
    return e;
  };
  for (let i = 0; i < k; i++) {
    if (survived[i] !== 1) continue;
    const op = trace.ops[i] as LogicalOp;
    switch (op.kind) {
      case "link":
        dirOf(op.dir)?.set(op.name, op.obj);
        dirOf(op.obj);
        break;
      case "unlink":
        if (t.entries.get(op.dir)?.get(op.name) === op.obj) t.entries.get(op.dir)?.delete(op.name);
        break;
      case "rename": {
        const from = t.entries.get(op.fromDir);
        if (from?.get(op.fromName) === op.obj) {
          if (op.exchange && op.replaced !== null) from.set(op.fromName, op.replaced);
          else from.delete(op.fromName);
        }
        dirOf(op.toDir)?.set(op.toName, op.obj);
        break;
      }
      case "write":
        t.data.set(op.obj, write(t.data.get(op.obj), op.offset, op.data));
        break;
      case "truncate":
        t.data.set(op.obj, resize(t.data.get(op.obj), op.size));
        break;
      case "attr": {
        const b = trace.births.get(op.obj);
        const cur = t.attrs.get(op.obj) ?? { mode: b?.mode ?? 0o600, uid: b?.uid ?? 0, gid: b?.gid ?? 0 };
        t.attrs.set(op.obj, { mode: op.mode ?? cur.mode, uid: op.uid ?? cur.uid, gid: op.gid ?? cur.gid });
        break;
      }
      case "fsync":
      case "fsyncdir":
        break;
    }
  }
  return t;
}

export interface TreeEntry {
  /** relative to the mount root, "queue/new/AB12" */
  path: string;
  obj: ObjId;
  birth: Birth;
  mode: number;
  uid: number;
  gid: number;
}

/** Every reachable entry, parents first, in name order (a hard link appears under each name). */
export function walkTree(t: CrashTree): TreeEntry[] {
  const out: TreeEntry[] = [];
  const visiting = new Set<ObjId>();
  const walk = (dir: ObjId, prefix: string): void => {
    if (visiting.has(dir)) return;
    visiting.add(dir);
    for (const name of [...(t.entries.get(dir)?.keys() ?? [])].sort()) {
      const obj = t.entries.get(dir)?.get(name) as ObjId;
      const birth = t.births.get(obj);
      if (birth === undefined) continue;
      const a = t.attrs.get(obj) ?? birth;
      const path = prefix === "" ? name : `${prefix}/${name}`;
      out.push({ path, obj, birth, mode: a.mode, uid: a.uid, gid: a.gid });
      if (birth.kind === "dir") walk(obj, path);
    }
    visiting.delete(dir);
  };
  walk(t.root, "");
  return out;
}

/** Equal for trees a recovering MTA cannot tell apart: names, kinds, owners, modes, contents. */
export function treeHash(t: CrashTree): string {
  const h = createHash("sha256");
  for (const e of walkTree(t)) {
    h.update(`${e.path}\0${e.birth.kind}\0${e.mode}\0${e.uid}\0${e.gid}\0${e.birth.target ?? ""}\0`);
    if (e.birth.kind === "file") h.update(createHash("sha256").update(t.data.get(e.obj) ?? Buffer.alloc(0)).digest());
    h.update("\n");
  }
  return h.digest("hex").slice(0, 16);
}

/**
 * Writes the tree's durable directories into `instanceDir` (which must not hold them yet), with
 * their owners and modes. Sockets are left out: the MTA binds them again when it starts.
 */
export async function materialize(t: CrashTree, instanceDir: string): Promise<void> {
  const later: Array<() => Promise<void>> = [];
  const firstName = new Map<ObjId, string>();
  for (const e of walkTree(t)) {
    const p = join(instanceDir, e.path);
    const first = firstName.get(e.obj);
    if (first !== undefined && e.birth.kind !== "dir") {
      await link(first, p); // a second name of one file
      continue;
    }
    firstName.set(e.obj, p);
    switch (e.birth.kind) {
      case "dir":
        await mkdir(p, { recursive: true });
        // a directory's own mode (0700, 0711) may keep us out while filling it: set it last
        later.push(async () => {
          await chown(p, e.uid, e.gid);
          await chmod(p, e.mode);
        });
        continue;
      case "file":
        await writeFile(p, t.data.get(e.obj) ?? Buffer.alloc(0), { flag: "wx" });
        break;
      case "symlink":
        await symlink(e.birth.target ?? "", p);
        await lchown(p, e.uid, e.gid);
        continue;
      case "fifo":
        await run("mkfifo", [p]);
        break;
      case "socket":
        continue;
    }
    await chown(p, e.uid, e.gid);
    await chmod(p, e.mode);
  }
  for (const f of later.reverse()) await f();
}
