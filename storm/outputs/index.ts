// The storm's kinds of output (--out KIND[=FILE]). A kind is one unit in this folder plus one
// line in this list; help texts and --out read the list.
import { OutputRegistry } from "../../common/output.js";
import type { OutputKind } from "../../common/output.js";
import { addPluginInstaller, assertShape, NAMED_FACTORY_FIELDS } from "../../common/plugins.js";
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
  install(entries, from) {
    for (const entry of entries) STORM_OUTPUTS.register(assertShape(entry, "storm output", from, NAMED_FACTORY_FIELDS) as unknown as OutputKind<StormOutcome, StormOutputContext>);
  },
});
