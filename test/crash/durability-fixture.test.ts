// The servers written for the crash-consistency tests (`smtpchaos crash run`): one Python MTA,
// test/crash/fixtures/durability-mta.py, whose five modes differ only in how a message is
// committed to its queue before the 250, each run through its own target file. Here, without any
// crash: every mode accepts and delivers each message exactly once, still once after a restart
// on the same instance directory; a queue file cut short is discarded at startup (logged), a
// complete one left queued is delivered, and the correct mode's system calls between the final
// dot and the 250 are the ones it claims (strace).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";
import { createTarget } from "../../targets/registry.js";
import type { Target } from "../../targets/target.js";
import { buildMessage } from "../../smtp/index.js";
import { freePort } from "../../targets/process/free-port.js";
import { descendants } from "../../targets/process/procfs.js";
import { ipv6LoopbackAvailable } from "../../targets/process/ipv6.js";
import { sendOne, waitFor } from "../targets/helpers.js";

const MODES = ["nosync", "inplace-fsync", "tmp-rename-dirsync", "tmp-rename-nodirsync", "rename-nosync-file"] as const;
const FIXTURES = fileURLToPath(new URL("../../../test/crash/fixtures/", import.meta.url));
const targetFile = (mode: string): string => join(FIXTURES, `durability-${mode}.target.yaml`);
const TRAILER = "\n.END-OF-MESSAGE\n";

const tmp = mkdtempSync(join(tmpdir(), "smtpchaos-durability-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** What the server's queue file holds for a message: its envelope line, the message, the trailer. */
function queueFile(message: Buffer): Buffer {
  const head = JSON.stringify({ from: "sender@client.example", to: ["user@test.example"], size: message.length, crc32: crc32(message) });
  return Buffer.concat([Buffer.from(head + "\n"), message, Buffer.from(TRAILER)]);
}

/** How many times each id was delivered. */
async function counts(t: Target): Promise<Map<string | null, number>> {
  const out = new Map<string | null, number>();
  for (const id of (await t.deliveredIds?.())?.delivered ?? []) out.set(id, (out.get(id) ?? 0) + 1);
  return out;
}

async function onceEach(t: Target, ids: readonly string[], what: string): Promise<void> {
  const c = await counts(t);
  assert.deepEqual([...c.keys()].sort(), [...ids].sort(), `${what}: the delivered ids are exactly the accepted ones`);
  for (const id of ids) assert.equal(c.get(id), 1, `${what}: ${id} delivered exactly once`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const mode of MODES) {
  test(`${mode}: three messages answered 250 are delivered exactly once, and still once after a restart on the same directory`, { timeout: 60_000 }, async () => {
    const dir = join(tmp, mode);
    mkdirSync(dir);
    let t: Target = createTarget(targetFile(mode), { dir });
    try {
      assert.deepEqual(t.durableDirs?.(), ["queue", "Maildir"]);
      await t.start();
      assert.equal(t.endpoint.host6, (await ipv6LoopbackAvailable()) ? "::1" : undefined, "it listens on ::1 when the machine has IPv6");
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        // the second one over IPv6 when the machine has it (the server listens on ::1 too)
        const host = i === 1 ? (t.endpoint.host6 ?? t.endpoint.host) : t.endpoint.host;
        const { id, replies } = await sendOne(host, t.endpoint.port, "user@test.example");
        const dot = replies.at(-1);
        assert.equal(dot?.code, 250, `message ${i + 1}: ${dot?.raw ?? "no reply"}`);
        assert.equal(dot.text, `2.0.0 queued as ${id}`, "the queue file is named after the message's id");
        ids.push(id);
      }
      assert.equal(new Set(ids).size, 3);
      await waitFor("an empty queue and three deliveries", async () => (await t.queueSize()) === 0 && (await counts(t)).size === 3);
      await onceEach(t, ids, "after delivery");
      assert.deepEqual(await t.queueIds?.(), []);
      const log = readFileSync(join(dir, "log", "mta.log"), "utf8");
      for (const id of ids) assert.match(log, new RegExp(`^accepted ${id}\\n(?:.*\\n)*?delivered ${id}$`, "m"));
      await t.stop();

      t = createTarget(targetFile(mode), { dir });
      await t.start();
      // the background queue runner scans every 200 ms: give it a few rounds to (wrongly) redeliver
      await sleep(700);
      assert.equal(await t.queueSize(), 0);
      await onceEach(t, ids, "after the restart");
      assert.equal(t.crash(), null);
    } finally {
      await t.stop();
    }
  });
}

test("startup: a queue file cut short (or empty) is discarded and logged, never delivered; a complete one left queued is delivered once, and not again when it already was; leftovers in queue/tmp are removed", { timeout: 60_000 }, async () => {
  const dir = join(tmp, "recovery");
  for (const d of ["queue/new", "queue/tmp", "Maildir/new"]) mkdirSync(join(dir, d), { recursive: true });
  const whole = buildMessage({ from: "sender@client.example", to: ["user@test.example"], size: 300 });
  const cut = buildMessage({ from: "sender@client.example", to: ["user@test.example"], size: 300 });
  const unacked = buildMessage({ from: "sender@client.example", to: ["user@test.example"], size: 300 });
  writeFileSync(join(dir, "queue/new", whole.id), queueFile(whole.data));
  const cutFile = queueFile(cut.data);
  writeFileSync(join(dir, "queue/new", cut.id), cutFile.subarray(0, cutFile.length - 40));
  writeFileSync(join(dir, "queue/new", "empty-1"), "");
  // the right length and trailer, but the message's head never reached the disk (zeros)
  const zeroed = queueFile(unacked.data);
  zeroed.fill(0, zeroed.indexOf("\n") + 1, zeroed.indexOf("\r\n\r\n"));
  writeFileSync(join(dir, "queue/new", "zeroed-1"), zeroed);
  writeFileSync(join(dir, "queue/tmp", unacked.id), queueFile(unacked.data));
  // delivered before a crash that left its queue file behind: not delivered again
  const dup = buildMessage({ from: "sender@client.example", to: ["user@test.example"], size: 300 });
  writeFileSync(join(dir, "Maildir/new", dup.id), dup.data);
  writeFileSync(join(dir, "queue/new", dup.id), queueFile(dup.data));

  const t = createTarget(targetFile("tmp-rename-dirsync"), { dir });
  try {
    // the file's queue commands read the queue as it is (nothing runs yet)
    assert.equal(await t.queueSize(), 5);
    assert.deepEqual((await t.queueIds?.())?.sort(), [whole.id, cut.id, dup.id].sort(), "ids of the queued files whose head survived");
    await t.start();
    assert.equal(await t.queueSize(), 0);
    await onceEach(t, [whole.id, dup.id], "after recovery");
    assert.deepEqual(readdirSync(join(dir, "queue/tmp")), []);
    const log = readFileSync(join(dir, "log", "mta.log"), "utf8");
    for (const name of [cut.id, "empty-1", "zeroed-1"]) assert.match(log, new RegExp(`^discarded incomplete ${name}$`, "m"));
    assert.match(log, new RegExp(`^removed leftover queue/tmp/${unacked.id}$`, "m"));
    assert.match(log, new RegExp(`^delivered ${whole.id}$`, "m"));
    assert.match(log, new RegExp(`^already delivered ${dup.id}$`, "m"));
    assert.equal(readFileSync(join(dir, "Maildir/new", whole.id)).toString("latin1"), whole.data.toString("latin1"), "the message bytes only: no envelope, no trailer");
  } finally {
    await t.stop();
  }
});

/** The system calls of a run of the server under strace, one message sent, as "call(args) = ret" lines. */
async function straced(mode: string, dir: string): Promise<string[]> {
  const port = await freePort();
  const out = join(dir, "strace.out");
  mkdirSync(join(dir, "log"), { recursive: true });
  const calls = "trace=openat,write,fsync,fdatasync,rename,renameat,renameat2,close,sendto,recvfrom,unlink,unlinkat";
  const p = spawn("strace", ["-f", "-qq", "-e", calls, "-o", out, "python3", join(FIXTURES, "durability-mta.py"), "--mode", mode, "--port", String(port), "--dir", dir, "--log", join(dir, "log", "mta.log")], { stdio: "ignore" });
  const exited = new Promise((r) => p.once("exit", r));
  try {
    const { replies } = await waitFor("the server under strace", async () => {
      try {
        return await sendOne("127.0.0.1", port, "user@test.example");
      } catch {
        return null;
      }
    });
    assert.equal(replies.at(-1)?.code, 250);
  } finally {
    // the server itself (strace's child) exits at once on SIGTERM, and strace with it
    for (const c of descendants(p.pid ?? -1)) if (c.cmdline.includes("durability-mta.py")) process.kill(c.pid, "SIGTERM");
    await exited;
  }
  return readFileSync(out, "utf8")
    .split("\n")
    .map((l) => l.replace(/^\d+\s+/, ""));
}

const haveStrace = spawnSync("strace", ["-V"], { stdio: "ignore" }).status === 0;

/** Each mode's system calls between the final dot and the 250, with the queue directory they name. */
const COMMITS: Record<(typeof MODES)[number], string[]> = {
  nosync: ["openat queue/new", "write", "close"],
  "inplace-fsync": ["openat queue/new", "write", "fsync", "close"],
  "tmp-rename-dirsync": ["openat queue/tmp", "write", "fsync", "close", "rename queue/tmp", "openat queue/new", "fsync", "close"],
  "tmp-rename-nodirsync": ["openat queue/tmp", "write", "fsync", "close", "rename queue/tmp"],
  "rename-nosync-file": ["openat queue/tmp", "write", "close", "rename queue/tmp", "openat queue/new", "fsync", "close"],
};

for (const mode of MODES) {
  test(`${mode} under strace: between the final dot and the 250 it does ${COMMITS[mode].join(", ")}`, { skip: haveStrace ? false : "strace missing", timeout: 60_000 }, async () => {
    const lines = await straced(mode, join(tmp, `strace-${mode}`));
    // the 250 after the dot, and the read that brought the message's end (the last before it)
    const ok = lines.findIndex((l) => /^sendto\(\d+, "250 2\.0\.0 queued as/.test(l));
    const dot = lines.slice(0, ok).findLastIndex((l) => l.startsWith("recvfrom("));
    assert.ok(dot >= 0 && ok > dot, lines.join("\n"));
    // each call with the first queue directory it names (the log line written on fd 3 apart)
    const commit = lines
      .slice(dot + 1, ok)
      .filter((l) => !l.startsWith("write(3, "))
      .map((l) => [l.slice(0, l.indexOf("(")), /\/(queue\/(?:tmp|new))\b/.exec(l)?.[1]].filter((x) => x !== undefined).join(" "));
    assert.deepEqual(commit, COMMITS[mode], lines.slice(dot, ok + 1).join("\n"));
  });
}
