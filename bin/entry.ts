// How a command runs as a process, the same for every entry point: plug-ins first (so help and
// validation include them), then the command; its exit code; a user error no command caught as
// one line; anything else is a bug and shows its stack.
import { EXIT } from "../common/exit-codes.js";
import { reportUserError, UserError } from "../common/errors.js";
import { loadPlugins, takePluginFlags } from "./plugins.js";

export function runAsProcess(name: string, main: (argv: string[]) => Promise<number>): void {
  ignoreClosedStdout();
  const { argv, plugins } = takePluginFlags(process.argv.slice(2));
  loadPlugins(plugins)
    .then(() => main(argv))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        if (err instanceof UserError) process.exitCode = reportUserError(err, name);
        else {
          console.error(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
          process.exitCode = EXIT.usage;
        }
      },
    );
}

// `smtpchaos suite run ... | head` closes stdout early; the run must still finish and stop the
// daemons it started, so a closed pipe is ignored instead of crashing the process.
function ignoreClosedStdout(): void {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
  });
}
