// A reporter for smtpscript and suite run: `--reporter dots`, one character per test-case.
import { liveOutput } from "smtpchaos";

const MARK = { passed: ".", failed: "F", error: "E", skipped: "s" };

export const dotsReporter = {
  name: "dots",
  summary: "one character per test-case: . F E s (the plug-in example)",
  create: (to) =>
    liveOutput(to, {
      event: (result) => MARK[result.status] ?? "?",
      result: (run) => `\n${run.results.filter((r) => r.status === "passed").length}/${run.results.length} passed\n`,
    }),
};
