// Where libfiu is installed: targets preload it into the processes they are asked to.
import { TargetUnavailableError } from "../errors.js";
import { existsSync } from "node:fs";

export const FIU_LIB_DIR = process.env.SMTPCHAOS_FIU_LIB_DIR ?? "/usr/lib/fiu";
/** what `fiu-run -x` preloads: the POSIX wrappers and the loader that reads FIU_ENABLE/FIU_CTRL_FIFO */
export const FIU_PRELOAD = [`${FIU_LIB_DIR}/fiu_posix_preload.so`, `${FIU_LIB_DIR}/fiu_run_preload.so`];

export function fiuInstalled(): boolean {
  return FIU_PRELOAD.every((p) => existsSync(p));
}

/** Throws the setup hint when libfiu is missing. */
export function assertFiuInstalled(): void {
  if (!fiuInstalled()) throw new TargetUnavailableError(`libfiu is not installed (${FIU_PRELOAD.join(", ")} missing): run 'npm run setup:mtas' as root`);
}

/**
 * The environment a process starts under libfiu with, as shell assignments: the preloads, and
 * with a seed libfiu's PRNG seeded from it (unseeded, libfiu seeds from the time and pid, and
 * a run's random faults never replay). Only for roles that are one long-lived process each: a
 * seeded process's children, forked per connection or spawned as copies of a service, would all
 * draw the same sequence, so every connection's Nth call would fail alike.
 */
export function fiuPreloadEnv(seed: number | undefined): string {
  // after what is preloaded already (the syscall shim)
  return `LD_PRELOAD="\${LD_PRELOAD:+$LD_PRELOAD }${FIU_PRELOAD.join(" ")}"${seed === undefined ? "" : ` FIU_PRNG_SEED=${seed >>> 0}`}`;
}
