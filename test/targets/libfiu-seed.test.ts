// Seeded libfiu: with FIU_PRNG_SEED libfiu's random decisions are the same sequence in every run
// of a process, and the real MTAs' roles start under libfiu with the run's seed in their
// environment, so `--seed` replays the faults decided inside them (per process and call order).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIU_PRELOAD, fiuInstalled, fiuPreloadEnv } from "../../targets/process/libfiu.js";
import { OPENSMTPD_PREFIX } from "../../targets/opensmtpd/target.js";
import type { OpenSmtpdTarget } from "../../targets/opensmtpd/target.js";
import { createFaultableTarget } from "../../monkey/targets.js";
import { mtaAvailability, requireMta } from "./helpers.js";

const fiuWhy = fiuInstalled() ? null : `libfiu missing (${FIU_PRELOAD.join(", ")}): run 'npm run setup:mtas'`;
const fiuSkip = fiuWhy !== null && process.env.CI === undefined ? fiuWhy : false;

/** One process opening the same file 40 times under a 50% open() fault: which opens failed. */
function pattern(seed: number | null): string {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LC_ALL: "C", LD_PRELOAD: FIU_PRELOAD.join(" "), FIU_ENABLE: "enable_random name=posix/io/oc/open,probability=0.5,failinfo=5" };
  if (seed !== null) env.FIU_PRNG_SEED = String(seed);
  let out: string;
  try {
    out = execFileSync("/bin/cat", Array.from({ length: 40 }, () => "/etc/hostname"), { env, stdio: ["ignore", "pipe", "pipe"] }).toString();
  } catch (err) {
    out = String((err as { stdout?: Buffer }).stdout ?? "") + String((err as { stderr?: Buffer }).stderr ?? "");
  }
  return out.split("\n").filter((l) => l !== "").map((l) => (/Input\/output error/.test(l) ? "0" : "1")).join("");
}

test("libfiu replays its random decisions with FIU_PRNG_SEED, and only with it", { skip: fiuSkip }, () => {
  if (fiuWhy !== null) throw new Error(`libfiu is required in CI: ${fiuWhy}`);
  const a = pattern(11);
  assert.ok(a.includes("0") && a.includes("1"), `some opens failed, some did not: ${a}`);
  assert.equal(pattern(11), a, "the same seed: the same calls fail");
  assert.notEqual(pattern(12), a, "another seed: other calls fail");
  assert.equal(fiuPreloadEnv(7), `LD_PRELOAD="\${LD_PRELOAD:+$LD_PRELOAD }${FIU_PRELOAD.join(" ")}" FIU_PRNG_SEED=7`);
  assert.equal(fiuPreloadEnv(-1), `LD_PRELOAD="\${LD_PRELOAD:+$LD_PRELOAD }${FIU_PRELOAD.join(" ")}" FIU_PRNG_SEED=4294967295`, "a negative run seed is its 32-bit pattern");
  assert.equal(fiuPreloadEnv(undefined), `LD_PRELOAD="\${LD_PRELOAD:+$LD_PRELOAD }${FIU_PRELOAD.join(" ")}"`);
});

const { why, skip } = mtaAvailability("opensmtpd", join(OPENSMTPD_PREFIX, "usr/sbin/smtpd"));

test("opensmtpd: the roles started under libfiu get the run's seed", { skip }, async (t) => {
  requireMta("opensmtpd", why);
  const f = createFaultableTarget("opensmtpd", { fiu: ["queue"], lookups: false, fiuSeed: 2026 });
  const target = f.target as OpenSmtpdTarget;
  t.after(async () => {
    await f.close();
    await target.stop();
  });
  await target.start();
  // OpenSMTPD rewrites its environment area for its process titles, so /proc/PID/environ cannot
  // tell: the wrapper every role is re-executed through (argv[0]) is what sets it, for the
  // roles under libfiu only.
  const wrapper = readFileSync(join(target.workDir, "fiu-bin", "smtpd"), "utf8");
  assert.match(wrapper, /case " queue " in\n {2}\*" \$role "\*\)/);
  assert.match(wrapper, /export LD_PRELOAD="[^"]+" FIU_PRNG_SEED=2026 FIU_CTRL_FIFO=/);
  assert.ok((await target.processes()).some((p) => p.role === "queue"), "and the queue role runs under it");
});
