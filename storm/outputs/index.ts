// The storm's kinds of output (--out KIND[=FILE]). A kind is one unit in this folder plus one
// line in this list; help texts and --out read the list.
import { OutputRegistry } from "../../common/output.js";
import type { OutputKind } from "../../common/output.js";
import { addPluginInstaller, assertShape } from "../../common/plugins.js";
import { consoleOutput } from "./console.js";
import { htmlOutput } from "./html.js";
import { jsonOutput } from "./json.js";
import { junitOutput } from "./junit.js";
import type { StormOutcome, StormOutputContext } from "./outcome.js";

export type { FindLimitRun, StormOutcome, StormOutputContext, StormRun } from "./outcome.js";

export const STORM_OUTPUTS = new OutputRegistry<StormOutcome, StormOutputContext>(
  [
    consoleOutput,
    jsonOutput,
    htmlOutput,
    junitOutput,
  ],
  "console",
);

addPluginInstaller({
  key: "stormOutputs",
  summary: "stormOutputs: output kinds for storm --out ({ name, summary, create(to, context) })",
  install(entries, from) {
    for (const entry of entries) STORM_OUTPUTS.register(assertShape(entry, "storm output", from, { name: "string", summary: "string", create: "function" }) as unknown as OutputKind<StormOutcome, StormOutputContext>);
  },
});
