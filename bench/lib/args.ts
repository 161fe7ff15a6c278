// What every bench script shares at its start: --help, one-line usage errors (exit 2).
import type { ParseArgsConfig } from "node:util";
import { parseCli } from "../../common/args.js";
import { UsageError } from "../../common/errors.js";

/** Prints `usage` and exits 0 on --help; on a bad flag or value (thrown by `read`) prints one line and exits 2. */
export function benchArgs<T>(name: string, usage: string, options: ParseArgsConfig["options"], read: (values: Record<string, string | boolean | undefined>) => T): T {
  try {
    const { values } = parseCli({ args: process.argv.slice(2), options: { ...options, help: { type: "boolean", short: "h" } } });
    if (values.help === true) {
      console.log(usage);
      process.exit(0);
    }
    return read(values as Record<string, string | boolean | undefined>);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return fail(name, err.message);
  }
}

/** One line on stderr, exit 2: for conditions the user must fix before a bench can run. */
export function fail(name: string, message: string): never {
  console.error(`${name}: ${message}`);
  process.exit(2);
}
