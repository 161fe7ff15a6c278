// The crash run's kinds of output (--out KIND[=FILE]): one unit each, one line here.
import { OutputRegistry } from "../../../common/output.js";
import type { CrashReport } from "../run.js";
import { consoleOutput } from "./console.js";
import { jsonOutput } from "./json.js";
import { htmlOutput } from "./html.js";

export const CRASH_OUTPUTS = new OutputRegistry<CrashReport>([consoleOutput, jsonOutput, htmlOutput], "console");
