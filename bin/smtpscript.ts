#!/usr/bin/env node
import { main } from "../smtpscript/cli.js";
import { EXIT } from "../common/exit-codes.js";
import { ignoreClosedStdout } from "./stdout.js";
import { composeTools } from "./compose.js";

ignoreClosedStdout();
composeTools();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`smtpscript: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = EXIT.usage;
  },
);
