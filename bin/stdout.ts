// `smtpchaos suite run ... | head` closes stdout early; the run must still finish and stop the
// daemons it started, so a closed pipe is ignored instead of crashing the process.
export function ignoreClosedStdout(): void {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
  });
}
