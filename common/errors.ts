// The one family of user errors: everything the user can fix (a bad flag, file, plan, mix or
// target; a refused or unreachable host; an MTA that is not installed) is a UserError with the
// exit code the CLIs return for it, so callers branch with `instanceof`, never on message text,
// and every CLI prints it without a stack trace. Messages often quote files and peers, so control
// bytes are escaped here once for all (line feeds stay: plans list their problems one a line).
import { EXIT, type ExitCode } from "./exit-codes.js";
import { visibleLines } from "./visible.js";

// A plug-in may throw the UserError of its own copy of smtpchaos: `instanceof UserError` goes by
// this brand, so the CLI still prints it as a user error (subclasses check their prototype as usual).
const BRAND = Symbol.for("smtpchaos.UserError");

export class UserError extends Error {
  /** what every CLI exits with when this error ends the run */
  readonly exitCode: ExitCode = EXIT.usage;
  readonly [BRAND] = true;

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== UserError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  constructor(message: string, options?: ErrorOptions) {
    super(visibleLines(message), options);
    this.name = new.target.name;
  }
}

/** A bad flag, value or unreadable input file. */
export class UsageError extends UserError {}

/** Nothing could reach the server under test (a wrong port, a server down): not a test result. */
export class UnreachableError extends UserError {}

/** A CLI's last catch: a UserError is printed as `prefix: message` and its exit code returned;
 * anything else is a bug and propagates (with its stack) to the entry point. */
export function reportUserError(err: unknown, prefix: string): ExitCode {
  if (!(err instanceof UserError)) throw err;
  console.error(`${prefix}: ${err.message}`);
  return err.exitCode;
}
