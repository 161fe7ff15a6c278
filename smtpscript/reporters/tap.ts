// TAP version 13, with a YAML diagnostic block for failures.
import { textOutput } from "../../common/output.js";
import { transcriptsText } from "../result.js";
import { visible } from "../../common/visible.js";
import type { RunResult } from "../result.js";
import type { ReporterKind } from "./kind.js";

export const tapReporter: ReporterKind = {
  name: "tap",
  summary: "TAP version 13, a YAML block per failure",
  create: (to) => textOutput(to, renderTap),
};

function renderTap(run: RunResult): string {
  const out = ["TAP version 13", `1..${run.results.length}`];
  if (run.seed !== undefined) out.push(`# seed: ${run.seed}`);
  run.results.forEach((r, i) => {
    const name = visible(r.name).replace(/#/g, "\\#");
    if (r.status === "skipped") {
      out.push(`ok ${i + 1} - ${name} # SKIP ${visible(r.skipReason ?? "")}`.trimEnd());
      return;
    }
    out.push(`${r.status === "passed" ? "ok" : "not ok"} ${i + 1} - ${name}`);
    if (r.failure === null) return;
    out.push("  ---");
    out.push(`  message: ${yamlString(r.failure.message)}`);
    out.push(`  severity: ${r.status === "failed" ? "fail" : "error"}`);
    out.push(`  type: ${r.failure.type}`);
    if (r.seed !== undefined) out.push(`  seed: ${r.seed}`);
    if (r.failure.loc !== null) out.push(`  at: ${yamlString(`${r.failure.loc.file}:${r.failure.loc.line}:${r.failure.loc.column}`)}`);
    if (r.failure.sourceLine !== null) out.push(`  source: ${yamlString(r.failure.sourceLine.trim())}`);
    const t = transcriptsText(r);
    if (t !== "") {
      out.push("  transcript: |");
      for (const l of t.split("\n")) out.push(`    ${l}`);
    }
    out.push("  ...");
  });
  return out.join("\n") + "\n";
}

function yamlString(s: string): string {
  // JSON escapes C0; DEL and C1 too, as everything shown on a terminal
  return visible(JSON.stringify(s));
}
