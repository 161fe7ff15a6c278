// One self-contained HTML page with charts (--html FILE), built from the JSON report.
import { textOutput } from "../../common/output.js";
import { UsageError } from "../../common/errors.js";
import { renderHtml } from "../html-report.js";
import { stormJson } from "./json.js";
import type { StormOutputKind } from "./outcome.js";

export const htmlOutput: StormOutputKind = {
  name: "html",
  summary: "one self-contained HTML page with charts (no network needed)",
  create: (to, context) => {
    // its charts are of one storm; a find-limit ramp has no such page (yet): refuse, never skip silently
    if (context.findLimit) throw new UsageError(`${to.flag}: no HTML report for --find-limit (use console, json or junit)`);
    return textOutput(to, (o) => {
      if (o.kind !== "storm") throw new Error("the HTML report is of one storm");
      return renderHtml(stormJson(o));
    });
  },
};
