// A storm output: `--out csv=FILE`, one row per session outcome.
import { textOutput, UsageError } from "smtpchaos";

export const csvOutput = {
  name: "csv",
  summary: "sessions by outcome as CSV (the plug-in example)",
  create: (to, context) => {
    if (context.findLimit) throw new UsageError("--out csv: a find-limit run has no single set of outcomes");
    return textOutput(to, (o) => {
      const m = o.result.metrics;
      const rows = [...m.outcomes.entries()].filter(([, n]) => n > 0).map(([outcome, n]) => `${outcome},${n}`);
      return `outcome,sessions\n${rows.join("\n")}\naccepted,${m.accepted}\n`;
    });
  },
};
