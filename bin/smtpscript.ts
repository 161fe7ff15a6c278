#!/usr/bin/env node
import { main } from "../smtpscript/cli.js";
import { EXIT } from "../common/exit-codes.js";
import { reportUserError, UserError } from "../common/errors.js";
import { ignoreClosedStdout } from "./stdout.js";
import { composeTools } from "./compose.js";
import { loadPlugins, takePluginFlags } from "./plugins.js";

ignoreClosedStdout();
composeTools();
const { argv, plugins } = takePluginFlags(process.argv.slice(2));
loadPlugins(plugins)
  .then(() => main(argv))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // a user error that no subcommand caught still gets one line; anything else is a bug: its stack
      if (err instanceof UserError) process.exitCode = reportUserError(err, "smtpscript");
      else {
        console.error(`smtpscript: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        process.exitCode = EXIT.usage;
      }
    },
  );
