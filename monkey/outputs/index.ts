// The monkey's kinds of output (--out KIND[=FILE] of `monkey run`). A kind is one unit in this
// folder plus one line in this list (the HTML report is html.ts and `htmlOutput,` here);
// help texts and --out read the list.
import { OutputRegistry } from "../../common/output.js";
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
