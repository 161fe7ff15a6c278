// Ctrl-C and SIGTERM for smtpscript and `suite run`: the first lets the test-cases in flight finish
// and starts no more, the second drops them (runProgram's signal and cutSignal); either way what
// completed is reported, exit 130.
import { onInterrupt } from "../common/interrupt.js";
import type { Interrupts } from "../common/interrupt.js";

export function onTestInterrupt(tool: string): Interrupts {
  return onInterrupt({ tool, first: "finishing the test-cases in flight, then reporting", cut: "dropping the test-cases in flight, reporting the ones that completed" });
}
