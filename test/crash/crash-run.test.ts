// `smtpchaos crash run` end to end, on servers written for the test that differ only in how they
// commit a message before their 250 (test/crash/fixtures/durability-mta.py), and on the embedded
// target: the verdict per persistence model, the explanation naming the missing fsync, the same
// verdicts from the same seed, bad input in one line, and nothing left mounted after a run,
// Ctrl-C or a crash of the tool.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";
import { createTarget } from "../../targets/registry.js";
import { recfsUnavailable } from "../../targets/process/recfs.js";
import { MODELS } from "../../monkey/crash/models.js";
import { runCrash, type CrashModelReport, type CrashReport } from "../../monkey/crash/run.js";
import { crashText } from "../../monkey/crash/outputs/text.js";
import { EXIT } from "../../common/exit-codes.js";
import { errorLines, hasStack, runCli, SMTPCHAOS } from "../cli/spawn.js";

const FIXTURES = fileURLToPath(new URL("../../../test/crash/fixtures/", import.meta.url));
const fixture = (mode: string): string => join(FIXTURES, `durability-${mode}.target.yaml`);
const why = recfsUnavailable();
const skip = why !== null && process.env.CI === undefined ? why : false;
const need = (): void => {
  if (why !== null) throw new Error(`the recording file system is required in CI: ${why}`);
};

async function crash(ref: string, seed = 1, messages = 6): Promise<CrashReport> {
  return runCrash({
    createTarget: (o) => createTarget(ref, o),
    targetRef: ref,
    models: MODELS,
    workload: { messages, concurrency: 1, seed, timeoutMs: 10_000, drainMs: 10_000 },
    maxStates: 60,
    recoverMs: 10_000,
    saveTraceTo: null,
  });
}

const byName = (r: CrashReport, name: string): CrashModelReport => r.models.find((m) => m.name === name) as CrashModelReport;
const lossy = (r: CrashReport): string[] => r.models.filter((m) => m.statesLosingMail > 0).map((m) => m.name);

/** Mounts of the recording file system left anywhere on this machine. */
function ourMounts(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes("smtpchaos-recfs"));
}

test("crash run: a server that never fsyncs loses acknowledged mail under every model", { skip, timeout: 300_000 }, async () => {
  need();
  const r = await crash(fixture("nosync"));
  assert.equal(r.accepted, 6, crashText(r));
  assert.deepEqual(lossy(r), ["posix", "ext4-ordered", "reorder"], crashText(r));
  assert.equal(r.verdict, "findings");
  assert.ok(byName(r, "posix").findings.some((f) => f.explanation.some((e) => /never fsynced/.test(e))), crashText(r));
  assert.deepEqual(ourMounts(), []);
});

test("crash run: the queue file fsynced in place, never its directory (Postfix's way), loses mail under posix only", { skip, timeout: 300_000 }, async () => {
  need();
  const r = await crash(fixture("inplace-fsync"));
  assert.deepEqual(lossy(r), ["posix"], crashText(r));
  const e = byName(r, "posix").findings.flatMap((f) => f.explanation);
  assert.ok(e.some((x) => /: create \/queue\/new\/\S+ \(#\d+\): its directory \/queue\/new was never fsynced after it$/.test(x)), e.join("\n"));
});

test("crash run: temporary file, fsync, rename, directory fsync before the 250 loses nothing; the same seed gives the same verdicts", { skip, timeout: 400_000 }, async () => {
  need();
  const a = await crash(fixture("tmp-rename-dirsync"), 5);
  assert.equal(a.verdict, "pass", crashText(a));
  assert.ok(a.models.every((m) => m.states > 1 && m.tried === m.states), crashText(a));
  const b = await crash(fixture("tmp-rename-dirsync"), 5);
  assert.deepEqual(b.models.map((m) => [m.name, m.statesLosingMail, m.lostMessages]), a.models.map((m) => [m.name, m.statesLosingMail, m.lostMessages]));
});

test("crash run: a rename after the last fsync, never a directory fsync, loses mail under posix and ext4-ordered", { skip, timeout: 300_000 }, async () => {
  need();
  const r = await crash(fixture("tmp-rename-nodirsync"));
  assert.ok(lossy(r).includes("posix") && lossy(r).includes("ext4-ordered"), crashText(r));
  const e = byName(r, "ext4-ordered").findings.flatMap((f) => f.explanation);
  assert.ok(e.some((x) => /rename \/queue\/tmp\/\S+ -> \/queue\/new\/\S+ \(#\d+\): no fsync of anything came after it/.test(x)), e.join("\n"));
});

test("crash run: the embedded target loses nothing under any model", { skip, timeout: 300_000 }, async () => {
  need();
  const r = await crash("embedded", 3, 8);
  assert.equal(r.accepted, 8);
  assert.equal(r.verdict, "pass", crashText(r));
  assert.ok(r.ops > 50, "its queue and deliveries were recorded");
});

test("crash run CLI: bad input is one line and exit 2", { skip, timeout: 60_000 }, async () => {
  need();
  const bad = await runCli(SMTPCHAOS, ["crash", "run", "--model", "ext3"]);
  assert.equal(bad.code, EXIT.usage);
  assert.deepEqual(errorLines(bad), ['smtpchaos crash run: --model: unknown model "ext3" (posix, ext4-ordered, reorder)']);
  const tmp = mkdtempSync(join(tmpdir(), "smtpchaos-crashcli-"));
  try {
    const file = join(tmp, "nodurable.target.yaml");
    writeFileSync(file, readFileSync(fixture("nosync"), "utf8").replace(/^durable:.*$/m, ""));
    const none = await runCli(SMTPCHAOS, ["crash", "run", "--target", file]);
    assert.equal(none.code, EXIT.usage, none.stderr);
    assert.equal(errorLines(none).length, 1, none.stderr);
    assert.match(none.stderr, /names no durable directories/);
    const nofuse = await runCli(SMTPCHAOS, ["crash", "run", "--target", fixture("nosync")], { shell: "export SMTPCHAOS_RECFS=/nonexistent/smtpchaos-recfs" });
    assert.equal(nofuse.code, EXIT.usage, nofuse.stderr);
    assert.equal(errorLines(nofuse).length, 1, nofuse.stderr);
    assert.match(nofuse.stderr, /recording file system|smtpchaos-recfs/);
    assert.equal(hasStack(nofuse), false);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("crash run CLI: Ctrl-C writes the partial report and unmounts; a killed tool leaves nothing mounted", { skip, timeout: 300_000 }, async () => {
  need();
  const tmp = mkdtempSync(join(tmpdir(), "smtpchaos-crashcli-"));
  try {
    const json = join(tmp, "r.json");
    // interrupted (once: a second Ctrl-C quits at once) while trying states
    let sent = false;
    const r = await runCli(SMTPCHAOS, ["crash", "run", "--target", fixture("nosync"), "--messages", "4", "--concurrency", "1", "--seed", "1", "--json", json, "--trace", join(tmp, "t.json")], {
      onStdout: (text, kill) => {
        if (!sent && /reorder: \d+ crash points/.test(text)) {
          sent = true;
          kill("SIGINT");
        }
      },
    });
    assert.equal(r.code, EXIT.interrupted, r.stderr);
    assert.ok(existsSync(json), `the partial report was written: ${r.stderr}`);
    const rep = JSON.parse(readFileSync(json, "utf8")) as CrashReport;
    assert.equal(rep.interrupted, true);
    assert.deepEqual(ourMounts(), []);
    // killed (SIGKILL) while recording: its recording file system goes with it
    const child = spawn(process.execPath, [SMTPCHAOS, "crash", "run", "--target", fixture("nosync"), "--messages", "5000", "--concurrency", "1"], { stdio: "ignore" });
    const until = async (ok: () => boolean, ms: number): Promise<void> => {
      for (const deadline = Date.now() + ms; !ok() && Date.now() < deadline; ) await new Promise((res) => setTimeout(res, 20));
    };
    await until(() => ourMounts().length > 0, 30_000);
    assert.ok(ourMounts().length > 0, "the run was recording");
    await new Promise((res) => setTimeout(res, 500));
    child.kill("SIGKILL");
    await until(() => ourMounts().length === 0, 10_000);
    // the server it had started is an orphan now (the tool died with SIGKILL): ended here, by its instance directory
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      let cmd = "";
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        continue;
      }
      if (cmd.includes("durability-mta.py") && cmd.includes("smtpchaos-crash-")) process.kill(Number(pid), "SIGTERM");
    }
    assert.deepEqual(ourMounts(), []);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
