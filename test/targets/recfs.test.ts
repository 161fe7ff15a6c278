// The recording file system (targets/shim/recfs.c via targets/process/recfs.ts): what another
// user's process does in bind-mounted directories comes out of the log as exact ops, in order,
// with data, owners and monotonic times; nothing stays mounted however the daemon or its parent
// ends. Needs root, /dev/fuse and `npm run setup:mtas` (missing ones fail in CI).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanStaleRecfsMounts, parseRecfsLog, recfsUnavailable, RecordingFs, type FsOp, type RecfsBind } from "../../targets/process/recfs.js";

const why = recfsUnavailable();
const skip = why !== null && process.env.CI === undefined ? why : false;
function requireRecfs(): void {
  if (why !== null) throw new Error(`the recording file system is required in CI: ${why}`);
}

const MAIL = 8; // uid and gid of Debian's mail user
const SETGID_GROUP = 50; // staff: a group the writer is not in

/** mount points of /proc/self/mountinfo at or under dir */
function mountedUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => (l.split(" ")[4] ?? "").replace(/\\040/g, " "))
    .filter((p) => p === dir || p.startsWith(dir + "/"));
}

/**
 * A temp dir others can traverse and a mount function; on the way out (passed or not) the mounts
 * end, whatever is still mounted under the dir is detached, and the dir is removed.
 */
function setup(t: TestContext): { dir: string; mount: (binds: RecfsBind[]) => Promise<RecordingFs> } {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-recfs-"));
  chmodSync(dir, 0o755);
  const mounted: RecordingFs[] = [];
  t.after(async () => {
    for (const fs of mounted) await fs.unmount().catch(() => undefined);
    for (const p of mountedUnder(dir).reverse()) spawnSync("umount", ["-l", "-c", p]);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    mount: async (binds) => {
      const fs = await RecordingFs.mount(join(dir, "rec"), binds);
      mounted.push(fs);
      return fs;
    },
  };
}

async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** runs python3 code as uid/gid 8 with no supplementary groups; resolves with stdout */
function asMail(code: string, args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const p = spawn("setpriv", [`--reuid=${MAIL}`, `--regid=${MAIL}`, "--clear-groups", "--", "python3", "-c", code, ...args], {
      cwd: "/",
      env: { PATH: "/usr/bin:/bin" }, // the system python3, not one under /root
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("exit", (code) => (code === 0 ? res(out) : rej(new Error(`python3 as mail exited ${code}: ${err}`))));
  });
}

const SCRIPT = String.raw`
import os, socket, sys
S, M = sys.argv[1], sys.argv[2]
os.umask(0o022)
os.mkdir(M + "/tmp", 0o700)
os.mkdir(M + "/new", 0o700)
fd = os.open(M + "/tmp/1.msg", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
os.write(fd, b"Subject: one\n")
os.write(fd, b"body\n")
os.fsync(fd)
os.close(fd)
os.rename(M + "/tmp/1.msg", M + "/new/1.msg")
d = os.open(M + "/new", os.O_RDONLY)
os.fsync(d)
os.close(d)
fd = os.open(S + "/sub/df", os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b"x" * 10)
os.fdatasync(fd)
os.close(fd)
os.unlink(S + "/pre")
os.mkfifo(S + "/fifo", 0o620)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(S + "/sock")
srv.listen(1)
cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cli.connect(S + "/sock")
conn, _ = srv.accept()
cli.sendall(b"ping")
assert conn.recv(4) == b"ping"
os.link(M + "/new/1.msg", M + "/new/1.link")
f = open(S + "/stdio.txt", "w")
f.write("hello stdio\n")
f.flush()
f.close()
open(S + "/public/drop", "w").close()
fd = os.open(S + "/gone", os.O_RDWR | os.O_CREAT, 0o600)
os.unlink(S + "/gone")
os.write(fd, b"ghost")
os.fsync(fd)
os.close(fd)
print(os.getpid())
`;

const S_IFMT = 0o170000;

test("recfs: another user's calls in bound directories come out as exact ops, with data, owners and monotonic times", { skip }, async (t) => {
  requireRecfs();
  const { dir, mount } = setup(t);
  const spool = join(dir, "spool");
  const maildir = join(dir, "maildir");
  mkdirSync(join(spool, "sub"), { recursive: true });
  mkdirSync(join(spool, "public"));
  writeFileSync(join(spool, "pre"), "pre\n", { mode: 0o640 });
  chmodSync(join(spool, "pre"), 0o640);
  chmodSync(spool, 0o750);
  chmodSync(join(spool, "public"), 0o2777); // a setgid drop dir of a group the writer is not in
  for (const p of [spool, join(spool, "pre"), join(spool, "sub")]) chownSync(p, MAIL, MAIL);
  chownSync(join(spool, "public"), 0, SETGID_GROUP);
  mkdirSync(maildir, { mode: 0o700 });
  chownSync(maildir, MAIL, MAIL);

  const fs = await mount([
    { sub: "queue", onto: spool },
    { sub: "mail/Maildir", onto: maildir },
  ]);
  assert.deepEqual(await fs.ops(), [], "nothing logged before anyone writes");
  const preIno = statSync(join(fs.dataDir, "queue/pre")).ino; // the copy's, which the mount shows (use_ino)
  assert.equal(statSync(join(spool, "pre")).ino, preIno);

  // What was there is there, owners and modes kept, through the bind and the mount.
  for (const base of [spool, join(dir, "rec/mnt/queue"), join(fs.dataDir, "queue")]) {
    const pre = statSync(join(base, "pre"));
    assert.deepEqual([pre.uid, pre.gid, pre.mode], [MAIL, MAIL, 0o100640], base);
    assert.equal(readFileSync(join(base, "pre"), "utf8"), "pre\n");
    assert.ok(statSync(join(base, "sub")).isDirectory());
    const top = statSync(base);
    assert.deepEqual([top.uid, top.gid, top.mode & 0o7777], [MAIL, MAIL, 0o750], base);
    assert.equal(statSync(join(base, "public")).mode & 0o7777, 0o2777);
  }
  assert.deepEqual(mountedUnder(dir), [join(dir, "rec/mnt"), spool, maildir]);

  const before = process.hrtime.bigint();
  const pid = Number(await asMail(SCRIPT, [spool, maildir]));
  const after = process.hrtime.bigint();
  const ops = await fs.ops();

  const Q = "/queue";
  const MD = "/mail/Maildir";
  const brief = ops.map((o) => [o.kind, o.path, ...(o.path2 === undefined ? [] : [o.path2])].join(" "));
  assert.deepEqual(brief, [
    `mkdir ${MD}/tmp`,
    `mkdir ${MD}/new`,
    `create ${MD}/tmp/1.msg`,
    `write ${MD}/tmp/1.msg`,
    `write ${MD}/tmp/1.msg`,
    `fsync ${MD}/tmp/1.msg`,
    `rename ${MD}/tmp/1.msg ${MD}/new/1.msg`,
    `fsyncdir ${MD}/new`,
    `create ${Q}/sub/df`,
    `write ${Q}/sub/df`,
    `fsync ${Q}/sub/df`,
    `unlink ${Q}/pre`,
    `mknod ${Q}/fifo`,
    `mknod ${Q}/sock`,
    `link ${MD}/new/1.msg ${MD}/new/1.link`,
    `create ${Q}/stdio.txt`,
    `write ${Q}/stdio.txt`, // stdio's buffered write, flushed: a write(2) all the same
    `create ${Q}/public/drop`,
    `create ${Q}/gone`,
    `unlink ${Q}/gone`,
    "write ", // an fd op on an unlinked file has no path
    "fsync ",
  ]);
  const op = (i: number): FsOp => ops[i] as FsOp;

  // Data, offsets and sync flavours.
  assert.deepEqual([op(3).offset, op(3).length, op(3).data?.toString()], [0, 13, "Subject: one\n"]);
  assert.deepEqual([op(4).offset, op(4).length, op(4).data?.toString()], [13, 5, "body\n"]);
  assert.equal(op(5).datasync, false);
  assert.equal(op(7).datasync, false);
  assert.equal(op(10).datasync, true);
  assert.equal(op(16).data?.toString(), "hello stdio\n");
  assert.equal(op(20).data?.toString(), "ghost");

  // Inodes tie the ops of one object together.
  const msgIno = op(2).ino;
  assert.ok(msgIno > 0);
  for (const i of [3, 4, 5, 6, 14]) assert.equal(op(i).ino, msgIno, brief[i]);
  assert.equal(op(6).ino2, 0, "the rename replaced nothing");
  assert.equal(op(6).renameFlags, 0);
  assert.equal(op(11).ino, preIno, "unlink names the inode it removed");
  assert.deepEqual([op(11).mode, op(11).uid], [0o100640, MAIL]);
  assert.equal(op(7).ino, statSync(join(fs.dataDir, "mail/Maildir/new")).ino);
  for (const i of [19, 20, 21]) assert.equal(op(i).ino, op(18).ino, brief[i]);

  // Owners and modes of what the caller created: its own, or the setgid parent's group.
  const owned = (i: number, type: number, perm: number, gid = MAIL): void =>
    assert.deepEqual([op(i).uid, op(i).gid, (op(i).mode ?? 0) & S_IFMT, (op(i).mode ?? 0) & 0o7777], [MAIL, gid, type, perm], brief[i]);
  owned(0, 0o040000, 0o700);
  owned(2, 0o100000, 0o640);
  owned(8, 0o100000, 0o600);
  owned(12, 0o010000, 0o600); // mkfifo 0620 under umask 022
  owned(13, 0o140000, 0o755); // a socket's mode is 0777 less the umask
  owned(17, 0o100000, 0o644, SETGID_GROUP);
  for (const base of [maildir, join(fs.dataDir, "mail/Maildir")]) {
    const st = lstatSync(join(base, "new/1.msg"));
    assert.deepEqual([st.uid, st.gid, st.nlink, st.ino], [MAIL, MAIL, 2, msgIno], base);
    assert.equal(readFileSync(join(base, "new/1.link"), "utf8"), "Subject: one\nbody\n");
  }
  for (const base of [spool, join(fs.dataDir, "queue")]) {
    assert.deepEqual([lstatSync(join(base, "sock")).uid, lstatSync(join(base, "sock")).isSocket()], [MAIL, true], base);
    assert.ok(lstatSync(join(base, "fifo")).isFIFO());
    assert.deepEqual([lstatSync(join(base, "public/drop")).uid, lstatSync(join(base, "public/drop")).gid], [MAIL, SETGID_GROUP], base);
  }

  // One process, one clock: strictly increasing times inside the script's run.
  assert.ok(ops.every((o) => o.pid === pid), "every op carries the caller's pid (a one-thread process)");
  ops.forEach((o, i) => {
    assert.equal(o.seq, i);
    assert.ok(o.at > before && o.at < after, `op ${i} at ${o.at} not in [${before}, ${after}]`);
    if (i > 0) assert.ok(o.at > op(i - 1).at, `op ${i} not after op ${i - 1}`);
  });

  await fs.unmount();
  await fs.unmount(); // idempotent
  assert.deepEqual(mountedUnder(dir), [], "nothing stays mounted");
  assert.equal(readFileSync(join(spool, "pre"), "utf8"), "pre\n", "the original directory is back, untouched");
});

test("recfs: the other ops (rename flags, replace, truncate, fallocate, append, chmod, chown, utimens, symlink, rmdir) and failed calls", { skip }, async (t) => {
  requireRecfs();
  const { dir, mount } = setup(t);
  const spool = join(dir, "spool");
  mkdirSync(spool);
  const fs = await mount([{ sub: "q", onto: spool }]);
  const code = String.raw`
import ctypes, errno, os, sys
S = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
def renameat2(a, b, flags):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), flags) != 0:
        return ctypes.get_errno()
    return 0
for n in ("a", "b"):
    with open(S + "/" + n, "w") as f: f.write(n * 4)
assert renameat2(S + "/a", S + "/b", 1) == errno.EEXIST  # RENAME_NOREPLACE: failed, not logged
assert renameat2(S + "/a", S + "/b", 2) == 0  # RENAME_EXCHANGE
os.rename(S + "/a", S + "/b")  # replaces b
os.truncate(S + "/b", 2)
fd = os.open(S + "/b", os.O_RDWR)
os.posix_fallocate(fd, 0, 8192)
os.ftruncate(fd, 1)
os.close(fd)
for _ in range(2):
    with open(S + "/b", "a") as f: f.write("zz")
os.chmod(S + "/b", 0o604)
os.chown(S + "/b", 8, 8)
os.utime(S + "/b", (1, 2))
os.symlink("b", S + "/ln")
os.mkdir(S + "/d")
os.rmdir(S + "/d")
try:
    os.rmdir(S + "/nothere")
except FileNotFoundError:
    pass
`;
  const r = spawnSync("python3", ["-c", code, spool], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const ops = await fs.ops();
  assert.deepEqual(
    ops.map((o) => [o.kind, o.path, o.path2 ?? ""].join(" ").trim()),
    [
      "create /q/a",
      "write /q/a",
      "create /q/b",
      "write /q/b",
      "rename /q/a /q/b",
      "rename /q/a /q/b",
      "truncate /q/b",
      "fallocate /q/b",
      "truncate /q/b",
      "write /q/b",
      "write /q/b",
      "chmod /q/b",
      "chown /q/b",
      "utimens /q/b",
      "symlink /q/ln b",
      "mkdir /q/d",
      "rmdir /q/d",
    ],
  );
  const op = (i: number): FsOp => ops[i] as FsOp;
  const [inoA, inoB] = [op(0).ino, op(2).ino];
  assert.deepEqual([op(4).ino, op(4).ino2, op(4).renameFlags], [inoA, inoB, 2], "exchange: both inodes, the flag");
  assert.deepEqual([op(5).ino, op(5).ino2, op(5).renameFlags], [inoB, inoA, 0], "a replace names what it replaced");
  assert.deepEqual([op(6).offset, op(7).offset, op(7).length, op(7).fallocateMode, op(8).offset], [2, 0, 8192, 0, 1]);
  assert.deepEqual([op(9).offset, op(10).offset], [1, 3], "appends land at the end of file");
  assert.equal(readFileSync(join(spool, "b"), "utf8"), "bzzzz", "b's inode, back at its name");
  assert.equal((op(11).mode ?? 0) & 0o7777, 0o604);
  assert.deepEqual([op(12).uid, op(12).gid], [8, 8]);
  assert.equal(lstatSync(join(spool, "ln")).isSymbolicLink(), true);
  assert.ok([6, 7, 8, 9, 10, 11, 12, 13].every((i) => op(i).ino === inoB), "after the swap and the replace, /q/b is b's inode again");
});

test("recfs: 8 concurrent writers, 50 create+write+fsync+rename cycles each, all logged consistently", { skip }, async (t) => {
  requireRecfs();
  const { dir, mount } = setup(t);
  const spool = join(dir, "spool");
  mkdirSync(join(spool, "tmp"), { recursive: true });
  mkdirSync(join(spool, "new"));
  const fs = await mount([{ sub: "q", onto: spool }]);
  const code = String.raw`
import os, sys
S, k = sys.argv[1], sys.argv[2]
for i in range(50):
    p = "%s/tmp/%s-%d" % (S, k, i)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, ("%s-%d " % (k, i)).encode() * 20)
    os.fsync(fd)
    os.close(fd)
    os.rename(p, "%s/new/%s-%d" % (S, k, i))
`;
  await Promise.all(
    Array.from({ length: 8 }, (_, k) =>
      new Promise<void>((res, rej) => {
        const p = spawn("python3", ["-c", code, spool, `w${k}`], { stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        p.stderr.on("data", (d: Buffer) => (err += d.toString()));
        p.on("exit", (c) => (c === 0 ? res() : rej(new Error(`writer ${k} exited ${c}: ${err}`))));
      }),
    ),
  );
  const ops = await fs.ops();
  const count = (kind: string): number => ops.filter((o) => o.kind === kind).length;
  assert.deepEqual([count("create"), count("write"), count("fsync"), count("rename")], [400, 400, 400, 400]);
  assert.equal(ops.length, 1600);
  // Per file: create, write, fsync, rename in that order, on one inode, with the right bytes.
  const byIno = new Map<number, FsOp[]>();
  for (const o of ops) byIno.set(o.ino, [...(byIno.get(o.ino) ?? []), o]);
  assert.equal(byIno.size, 400);
  for (const seq of byIno.values()) {
    assert.deepEqual(seq.map((o) => o.kind), ["create", "write", "fsync", "rename"]);
    const name = (seq[0] as FsOp).path.slice("/q/tmp/".length);
    assert.equal((seq[1] as FsOp).data?.toString(), `${name} `.repeat(20));
    assert.equal((seq[3] as FsOp).path2, `/q/new/${name}`);
  }
  ops.forEach((o, i) => i > 0 && assert.ok(o.at > (ops[i - 1] as FsOp).at));
  assert.equal(readdirSync(join(spool, "new")).length, 400);
  assert.deepEqual(readdirSync(join(spool, "tmp")), []);
});

test("recfs: a parent killed with SIGKILL takes the mount with it (the daemon sees its stdin end)", { skip }, async (t) => {
  requireRecfs();
  const { dir } = setup(t);
  const onto = join(dir, "spool");
  const lib = new URL("../../targets/process/recfs.js", import.meta.url).href;
  const code = `import { RecordingFs } from ${JSON.stringify(lib)};
const fs = await RecordingFs.mount(${JSON.stringify(join(dir, "rec"))}, [{ sub: "q", onto: ${JSON.stringify(onto)} }]);
console.log(fs.pid);
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const daemon = await new Promise<number>((res, rej) => {
    child.stdout.once("data", (d: Buffer) => res(Number(d.toString().trim())));
    child.once("exit", (c) => rej(new Error(`mounting child exited ${c}`)));
  });
  assert.deepEqual(mountedUnder(dir), [join(dir, "rec/mnt"), onto]);
  child.kill("SIGKILL");
  await until("the daemon to unmount", () => mountedUnder(dir).length === 0);
  await until("the daemon to exit", () => {
    try {
      return /^State:\s+[ZX]/m.test(readFileSync(`/proc/${daemon}/status`, "utf8"));
    } catch {
      return true;
    }
  });
});

test("recfs: a daemon killed with SIGKILL leaves mounts that cleanStaleRecfsMounts removes", { skip }, async (t) => {
  requireRecfs();
  const { dir, mount } = setup(t);
  const onto = join(dir, "spool");
  const fs = await mount([{ sub: "q", onto }]);
  process.kill(fs.pid, "SIGKILL");
  await until("the daemon to die", () => {
    try {
      return /^State:\s+[ZX]/m.test(readFileSync(`/proc/${fs.pid}/status`, "utf8"));
    } catch {
      return true;
    }
  });
  assert.deepEqual(mountedUnder(dir), [join(dir, "rec/mnt"), onto], "a killed daemon cannot unmount");
  const removed = cleanStaleRecfsMounts();
  assert.ok(removed.includes(join(dir, "rec/mnt")) && removed.includes(onto), removed.join(", "));
  assert.deepEqual(mountedUnder(dir), []);
  await fs.unmount(); // nothing left to do, and no complaint
});

test("recfs: the log parser ignores a truncated last record and names the offset of a bad one", () => {
  const rec = (op: number, path: string, data = ""): Buffer => {
    const h = Buffer.alloc(88);
    h.writeUInt32LE(0x52435346, 0);
    h.writeUInt32LE(op, 4);
    h.writeBigUInt64LE(1000n + BigInt(op), 8);
    h.writeUInt32LE(42, 16);
    h.writeBigUInt64LE(7n, 24);
    h.writeUInt32LE(path.length, 72);
    h.writeUInt32LE(data.length, 80);
    return Buffer.concat([h, Buffer.from(path), Buffer.from(data)]);
  };
  const log = Buffer.concat([rec(0, "/data"), rec(9, "/q/a", "hello"), rec(15, "/q/a")]);
  const ops = parseRecfsLog(log);
  assert.deepEqual(
    ops.map((o) => [o.seq, o.kind, o.path, o.at, o.pid, o.ino, o.data?.toString()]),
    [
      [0, "write", "/q/a", 1009n, 42, 7, "hello"],
      [1, "fsync", "/q/a", 1015n, 42, 7, undefined],
    ],
  );
  assert.equal(parseRecfsLog(log.subarray(0, log.length - 3)).length, 1, "a record still being written is left out");
  assert.equal(parseRecfsLog(log.subarray(0, 88 + 5 + 40)).length, 0);
  const bad = Buffer.from(log);
  bad.writeUInt32LE(0xdeadbeef, 88 + 5);
  assert.throws(() => parseRecfsLog(bad), /bad magic 0xdeadbeef at byte 93/);
});
