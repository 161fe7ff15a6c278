// The recording file system (targets/shim/recfs.c): a FUSE passthrough, bind-mounted over an
// MTA's durable directories, that logs every mutating call any process makes there (with the data
// written) in completion order with CLOCK_MONOTONIC times, for crash-consistency tests that rebuild
// the tree a power cut at a given moment would leave. This module starts and ends the daemon and
// parses its log.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { mounts, under } from "./mounts.js";

/** The daemon (built by setup:mtas). */
export const RECFS_BIN = process.env.SMTPCHAOS_RECFS ?? "/opt/smtpchaos/lib/smtpchaos-recfs";

/** why a recording file system cannot run here (not root, /dev/fuse missing, binary not built), or null */
export function recfsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "the recording file system needs root";
  if (!existsSync("/dev/fuse")) return "/dev/fuse missing";
  if (!existsSync(RECFS_BIN)) return `${RECFS_BIN} missing (run 'npm run setup:mtas')`;
  return null;
}

export type FsOpKind = "create" | "mknod" | "mkdir" | "symlink" | "link" | "unlink" | "rmdir" | "rename" | "write" | "truncate" | "fallocate" | "chmod" | "chown" | "utimens" | "fsync" | "fsyncdir";

/** The record's op numbers, index = number (0 is the daemon's header). */
const KINDS: readonly (FsOpKind | "header")[] = ["header", "create", "mknod", "mkdir", "symlink", "link", "unlink", "rmdir", "rename", "write", "truncate", "fallocate", "chmod", "chown", "utimens", "fsync", "fsyncdir"];

export interface FsOp {
  /** position in the log (0 for the first op after the header) */
  seq: number;
  /** CLOCK_MONOTONIC ns, the clock of process.hrtime.bigint(); strictly increasing with seq */
  at: bigint;
  /** the calling thread's id, as the kernel gives FUSE (0 for calls not made by a process) */
  pid: number;
  kind: FsOpKind;
  /** mount-relative ("/queue/incoming/AB12"); "" for an fd op on an unlinked file */
  path: string;
  /** rename: the target; link: the new name; symlink: its content */
  path2?: string;
  /** the backing inode: of the object created, written, synced or changed; rename/unlink/rmdir: of the object moved or removed */
  ino: number;
  /** rename: the inode replaced at the target (or swapped with, RENAME_EXCHANGE), 0 if none */
  ino2?: number;
  /** st_mode with the type bits, and owners: after the op (create, mknod, mkdir, symlink, link, chmod, chown), before it (unlink, rmdir, rename) */
  mode?: number;
  uid?: number;
  gid?: number;
  /** write: where; truncate: the new size; fallocate: where */
  offset?: number;
  /** write: bytes written; fallocate: bytes */
  length?: number;
  /** write: the bytes */
  data?: Buffer;
  /** fsync, fsyncdir: fdatasync rather than fsync */
  datasync?: boolean;
  /** rename: RENAME_NOREPLACE (1), RENAME_EXCHANGE (2) */
  renameFlags?: number;
  /** fallocate: its mode (FALLOC_FL_KEEP_SIZE 1, PUNCH_HOLE 2, ...) */
  fallocateMode?: number;
}

const MAGIC = 0x52435346;
const HEADER = 88;

/**
 * The ops of a log (the header record dropped). A truncated last record is ignored (a log read
 * while the daemon writes); a bad magic or op number throws with its byte offset.
 */
export function parseRecfsLog(buf: Buffer): FsOp[] {
  const out: FsOp[] = [];
  for (let at = 0; buf.length - at >= HEADER; ) {
    const magic = buf.readUInt32LE(at);
    if (magic !== MAGIC) throw new Error(`recfs log: bad magic 0x${magic.toString(16)} at byte ${at}`);
    const opNo = buf.readUInt32LE(at + 4);
    const kind = KINDS[opNo];
    if (kind === undefined) throw new Error(`recfs log: unknown op ${opNo} at byte ${at}`);
    const pathLen = buf.readUInt32LE(at + 72);
    const path2Len = buf.readUInt32LE(at + 76);
    const dataLen = buf.readUInt32LE(at + 80);
    const end = at + HEADER + pathLen + path2Len + dataLen;
    if (end > buf.length) break;
    if (kind !== "header") {
      const flags = buf.readUInt32LE(at + 20);
      const mode = buf.readUInt32LE(at + 40);
      const p = at + HEADER;
      const op: FsOp = {
        seq: out.length,
        at: buf.readBigUInt64LE(at + 8),
        pid: buf.readUInt32LE(at + 16),
        kind,
        path: buf.toString("utf8", p, p + pathLen),
        ino: Number(buf.readBigUInt64LE(at + 24)),
      };
      if (path2Len > 0 || kind === "rename" || kind === "link" || kind === "symlink") op.path2 = buf.toString("utf8", p + pathLen, p + pathLen + path2Len);
      if (kind === "rename") {
        op.ino2 = Number(buf.readBigUInt64LE(at + 32));
        op.renameFlags = (flags >> 8) & 0xff;
      }
      if (mode !== 0) {
        op.mode = mode;
        op.uid = buf.readUInt32LE(at + 44);
        op.gid = buf.readUInt32LE(at + 48);
      }
      if (kind === "write" || kind === "truncate" || kind === "fallocate") op.offset = Number(buf.readBigUInt64LE(at + 56));
      if (kind === "write" || kind === "fallocate") op.length = Number(buf.readBigUInt64LE(at + 64));
      if (kind === "write") op.data = Buffer.from(buf.subarray(p + pathLen + path2Len, end));
      if (kind === "fsync" || kind === "fsyncdir") op.datasync = (flags & 1) !== 0;
      if (kind === "fallocate") op.fallocateMode = (flags >> 8) & 0xff;
      out.push(op);
    }
    at = end;
  }
  return out;
}

export interface RecfsBind {
  /** a directory under the mount (and under data/) */
  sub: string;
  /** the absolute directory it is bind-mounted onto (its contents are copied in first) */
  onto: string;
}

/** A target's durable directories (relative to its instance directory) as binds: each recorded where it is. */
export function durableBinds(instanceDir: string, durable: readonly string[]): RecfsBind[] {
  return durable.map((sub) => ({ sub, onto: join(instanceDir, sub) }));
}

const FSTYPE = "fuse.smtpchaos-recfs";

/** Lazily unmounts mount points, deepest (latest mounted) first; umount -c: a dead FUSE mount cannot be looked at. */
function detach(points: string[]): void {
  for (const p of [...points].reverse()) {
    const r = spawnSync("umount", ["-l", "-c", p], { encoding: "utf8" });
    if (r.status !== 0 && mounts().some((m) => m.mountPoint === p)) throw new Error(`umount -l ${p}: ${(r.stderr || r.error?.message || "").trim()}`);
  }
}

function liveRecfs(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false; // this VM's init does not reap orphans
    const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    return comm === "smtpchaos-recfs" || comm === basename(RECFS_BIN).slice(0, 15);
  } catch {
    return false;
  }
}

/**
 * Lazily unmounts every recording file system whose daemon (the pid in its source,
 * smtpchaos-recfs:PID) is no longer a live smtpchaos-recfs process, with its binds (they show the
 * same type and source); returns the mount points removed. For a tool killed with its daemon.
 */
export function cleanStaleRecfsMounts(): string[] {
  const stale = mounts()
    .filter((m) => m.fstype === FSTYPE && !liveRecfs(Number(/^smtpchaos-recfs:(\d+)$/.exec(m.source)?.[1] ?? 0)))
    .map((m) => m.mountPoint);
  detach(stale);
  return stale;
}

export class RecordingFs {
  readonly logPath: string;
  readonly dataDir: string;
  readonly pid: number;
  private exited: Promise<void>;
  private ending: Promise<void> | null = null;
  /** the daemon's last words (the tail of its stderr) */
  private stderr = "";

  private constructor(
    readonly root: string,
    private readonly child: ChildProcess,
  ) {
    this.logPath = join(root, "ops.log");
    this.dataDir = join(root, "data");
    this.pid = child.pid as number;
    // "close": exited, and its stderr read to the end
    this.exited = new Promise((res) => child.once("close", () => res()));
  }

  /**
   * Spawns the daemon and waits for its `ready` (10 s). root will hold data/ (the backing tree),
   * mnt/ (the FUSE mount) and ops.log. The daemon's stdin stays a pipe from this process: when it
   * ends (this process exits or is killed), the daemon unmounts everything. The child is unref'd,
   * so a forgotten mount does not keep Node alive.
   */
  static async mount(root: string, binds: RecfsBind[]): Promise<RecordingFs> {
    root = resolve(root);
    for (const d of ["data", "mnt"]) mkdirSync(join(root, d), { recursive: true });
    const args = ["--data", join(root, "data"), "--mnt", join(root, "mnt"), "--log", join(root, "ops.log")];
    for (const b of binds) args.push("--bind", `${b.sub}:${resolve(b.onto)}`);
    const child = spawn(RECFS_BIN, args, { stdio: ["pipe", "pipe", "pipe"] });
    const fs = new RecordingFs(root, child);
    child.stderr?.setEncoding("utf8").on("data", (s: string) => void (fs.stderr = (fs.stderr + s).slice(-8192)));
    const failure = await new Promise<string | null>((res) => {
      let out = "";
      const timer = setTimeout(() => res("no 'ready' within 10 s"), 10_000);
      const done = (why: string | null): void => {
        clearTimeout(timer);
        res(why);
      };
      child.stdout?.setEncoding("utf8").on("data", (s: string) => {
        out += s;
        if (out.split("\n").includes("ready")) done(null);
      });
      child.once("error", (e) => done(e.message));
      child.once("exit", (code, sig) => done(`exited (${sig ?? code})`));
    });
    if (failure !== null) {
      await fs.unmount().catch(() => undefined);
      throw new Error(`smtpchaos-recfs ${failure}: ${fs.stderr.trim()}`);
    }
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    return fs;
  }

  /** Everything logged so far (the header dropped). */
  async ops(): Promise<FsOp[]> {
    return parseRecfsLog(await readFile(this.logPath));
  }

  /**
   * Idempotent. SIGTERM to the daemon (our child, while it has not exited), up to 5 s for it to
   * unmount and exit, else SIGKILL and unmount what it left under root and of its binds here; then
   * checks that nothing of it (under root, or with its source: its binds) is still mounted. A
   * daemon that had exited with a failure (its log could not be written: the recording is
   * incomplete) makes this throw after the cleanup.
   */
  unmount(): Promise<void> {
    this.ending ??= this.end();
    return this.ending;
  }

  private async end(): Promise<void> {
    const { child } = this;
    const running = (): boolean => child.pid !== undefined && child.exitCode === null && child.signalCode === null;
    const wait = async (ms: number): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.exited, new Promise<void>((res) => (timer = setTimeout(res, ms)))]);
      clearTimeout(timer);
    };
    if (running()) {
      child.ref();
      child.kill("SIGTERM");
      await wait(5_000);
      if (running()) {
        child.kill("SIGKILL");
        await wait(1_000);
      }
    }
    const source = `smtpchaos-recfs:${this.pid}`;
    const ours = (): string[] =>
      mounts()
        .filter((m) => under(m.mountPoint, this.root) || (m.fstype === FSTYPE && m.source === source))
        .map((m) => m.mountPoint);
    const left = ours();
    if (left.length > 0) detach(left);
    const still = ours();
    if (still.length > 0) throw new Error(`smtpchaos-recfs: still mounted after unmount: ${still.join(", ")}`);
    if ((child.exitCode ?? 0) > 0) throw new Error(`smtpchaos-recfs exited ${child.exitCode}: ${this.stderr.trim()}`);
  }
}

