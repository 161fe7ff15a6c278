// The monkey's kinds of output (--out KIND[=FILE] of `monkey run`). A kind is one unit in this
// folder plus one line in this list (the HTML report is html.ts and `htmlOutput,` here);
// help texts and --out read the list.
import { OutputRegistry } from "../../common/output.js";
import type { OutputKind } from "../../common/output.js";
import { addPluginInstaller, assertShape, NAMED_FACTORY_FIELDS } from "../../common/plugins.js";
import type { MonkeyReport } from "../run.js";
import { consoleOutput } from "./console.js";
import { jsonOutput } from "./json.js";
import { junitOutput } from "./junit.js";
import { htmlOutput } from "./html.js";

export const MONKEY_OUTPUTS = new OutputRegistry<MonkeyReport>(
  [
    consoleOutput,
    jsonOutput,
    junitOutput,
    htmlOutput,
  ],
  "console",
);

/** Writes a monkey report as `monkey run --out` does: `["html=monkey.html", "junit=monkey.xml"]`. */
export async function writeMonkeyReports(report: MonkeyReport, outputs: readonly string[]): Promise<void> {
  await MONKEY_OUTPUTS.choose({ out: [...outputs] }, undefined).finishOrThrow(report);
}

addPluginInstaller({
  key: "monkeyOutputs",
  install(entries, from) {
    for (const entry of entries) MONKEY_OUTPUTS.register(assertShape(entry, "monkey output", from, NAMED_FACTORY_FIELDS) as unknown as OutputKind<MonkeyReport>);
  },
});
