// The sweep's kinds of output (--out KIND[=FILE] of `monkey sweep`): one unit each, one line here.
import { OutputRegistry } from "../../../common/output.js";
import type { SweepReport } from "../sweep.js";
import { consoleOutput } from "./console.js";
import { jsonOutput } from "./json.js";
import { junitOutput } from "./junit.js";
import { htmlOutput } from "./html.js";

export const SWEEP_OUTPUTS = new OutputRegistry<SweepReport>(
  [
    consoleOutput,
    jsonOutput,
    junitOutput,
    htmlOutput,
  ],
  "console",
);
