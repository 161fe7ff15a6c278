// The monkey's kinds of output (--out KIND[=FILE] of `monkey run`). A kind is one unit in this
// folder plus one line in this list (an HTML report would be html.ts and `htmlOutput,` here);
// help texts and --out read the list.
import { OutputRegistry } from "../../common/output.js";
import type { MonkeyReport } from "../run.js";
import { consoleOutput } from "./console.js";
import { jsonOutput } from "./json.js";
import { junitOutput } from "./junit.js";

export const MONKEY_OUTPUTS = new OutputRegistry<MonkeyReport>(
  [
    consoleOutput,
    jsonOutput,
    junitOutput,
  ],
  "console",
);
