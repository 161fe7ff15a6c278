// Ctrl-C and SIGTERM (CI cancelling a job, `timeout`), the same in every tool that still has a
// report to write: the first signal stops the run gracefully (it starts nothing new, lets what is
// in flight finish, then reports), the second stops it at once (what is in flight is dropped, and
// what completed is still reported). The run then returns exit 130 itself: no handler exits for it.
// Only a run that cannot drop its work in flight (no `cut`) is ended by the second signal, with
// process.exit(130), whose exit handlers still stop the targets it started.
import { EXIT } from "./exit-codes.js";

export interface Interrupts {
  /** aborted at the first signal: stop gracefully */
  readonly signal: AbortSignal;
  /** aborted at the second signal (when the run can `cut`): stop at once */
  readonly cut: AbortSignal;
  /** stops listening; call in a finally, once the report is out */
  off(): void;
}

export interface InterruptSpec {
  /** the tool's name, which starts each line it prints: "smtpchaos storm" */
  tool: string;
  /** what the run does at the first signal before it reports */
  first: string;
  /** what the run drops at the second signal; without it, the second signal exits at once */
  cut?: string;
  /** for a run whose dropped work may still hold the process (storm's cut sessions keep their
   * sockets): it exits this long after the second signal at the latest, and shortly after off() */
  exitWithinMs?: number;
}

export function onInterrupt(spec: InterruptSpec): Interrupts {
  const stop = new AbortController();
  const cut = new AbortController();
  const onSignal = (): void => {
    if (!stop.signal.aborted) {
      process.stderr.write(`\n${spec.tool}: interrupted; ${spec.first} (${spec.cut !== undefined ? "interrupt again to stop now" : "Ctrl-C again to quit at once"})\n`);
      stop.abort();
      return;
    }
    if (spec.cut === undefined) process.exit(EXIT.interrupted);
    if (cut.signal.aborted) return;
    process.stderr.write(`\n${spec.tool}: interrupted again; ${spec.cut}\n`);
    cut.abort();
    if (spec.exitWithinMs !== undefined) exitLater(spec.exitWithinMs - 100, `${spec.tool}: still not done ${spec.exitWithinMs / 1000} s after the second interrupt; exiting\n`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: stop.signal,
    cut: cut.signal,
    off: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      if (cut.signal.aborted && spec.exitWithinMs !== undefined) exitLater(100);
    },
  };
}

/** The one hard exit of a run that was cut (storm: its cut sessions may keep their sockets open);
 * unref'd, so a process that ends by itself is not held up. */
function exitLater(ms: number, why?: string): void {
  setTimeout(() => {
    if (why !== undefined) process.stderr.write(why);
    process.exit(EXIT.interrupted);
  }, ms).unref();
}
