// The matrix's kinds of output (--out KIND[=FILE] of `report matrix`), one line each.
import { OutputRegistry, textOutput, type OutputKind } from "../../common/output.js";
import type { MatrixModel } from "./matrix.js";
import { matrixMarkdown } from "./render-md.js";
import { matrixHtml } from "./render-html.js";
import { suitesSummaryText, sweepSummaryText } from "./cell-text.js";

/** One line per target: what a terminal shows once the pages are written. */
export function matrixText(m: MatrixModel): string {
  const lines = m.columns.map((c) => {
    const parts = [...(m.suites !== null ? [`suites ${suitesSummaryText(c).text}`] : []), ...(m.sweep !== null ? [`sweep ${sweepSummaryText(c).text}${c.sweep !== null ? ` (${c.sweep.graceful}/${c.sweep.injected} graceful, ${c.sweep.findings} findings)` : ""}`] : [])];
    // the first line: a start failure's log tail is in the pages' notes
    const why = [c.unavailable ?? c.suitesError, c.unavailable === null ? c.sweepError : null]
      .filter((e): e is string => e !== null)
      .map((e) => e.split("\n")[0] ?? "")
      .join("; ");
    return `${c.name}: ${parts.join("; ")}${why !== "" ? ` (${why})` : ""}`;
  });
  return `matrix of ${m.columns.length} target(s):\n${lines.map((l) => `  ${l}`).join("\n")}\n`;
}

const kinds: ReadonlyArray<OutputKind<MatrixModel>> = [
  { name: "console", summary: "one line per target (stdout, unless sent elsewhere)", create: (to) => textOutput(to, matrixText) },
  { name: "md", summary: "the page as Markdown (plain marks ✓ ~ ✗ · –, numbered notes)", create: (to) => textOutput(to, matrixMarkdown) },
  { name: "html", summary: "the page as one self-contained HTML file (coloured cells, no scripts)", create: (to) => textOutput(to, matrixHtml) },
  { name: "json", summary: "the merged data the pages are built from", create: (to) => textOutput(to, (m) => JSON.stringify(m, null, 2) + "\n") },
];

export const MATRIX_OUTPUTS = new OutputRegistry<MatrixModel>(kinds, "console");
