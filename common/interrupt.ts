// Ctrl-C and SIGTERM for a run that still has a report to write: the first signal aborts the run
// (it stops, reconciles and reports what it has), the second quits at once with exit 130.
import { EXIT } from "./exit-codes.js";

export interface Interrupts {
  /** aborted at the first signal */
  readonly signal: AbortSignal;
  /** stops listening (call in a finally) */
  off(): void;
}

/** `message` is printed at the first signal: what the run does before it reports. */
export function onInterrupt(message: string): Interrupts {
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(EXIT.interrupted);
    process.stderr.write(`\n${message} (Ctrl-C again to quit at once)\n`);
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: abort.signal,
    off: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
