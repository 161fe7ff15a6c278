// Errors in a script itself (syntax, unknown proc, undefined variable, include cycle): always
// located, always shown with the offending line and a caret.
import { UserError } from "../common/errors.js";
import { EXIT, type ExitCode } from "../common/exit-codes.js";
import type { Loc } from "./ast.js";
import { visible } from "../common/visible.js";

export class ScriptError extends UserError {
  constructor(
    readonly loc: Loc,
    readonly reason: string,
    /** the text of the offending line, when known */
    readonly sourceLine: string | null,
  ) {
    super(visible(`${loc.file}:${loc.line}:${loc.column}: ${reason}`));
  }

  /** Compiler-style report: location, reason, the line and a caret under the column; control
   * characters of the file (an escape sequence, a bell) are shown escaped, never sent raw. */
  format(): string {
    const head = visible(`${this.loc.file}:${this.loc.line}:${this.loc.column}: error: ${this.reason}`);
    if (this.sourceLine === null) return head;
    const num = String(this.loc.line);
    const gutter = " ".repeat(num.length);
    // A long line is shown around the column only (a generated script can have a 30 KB line).
    const from = this.sourceLine.length > 200 ? Math.max(0, this.loc.column - 1 - 60) : 0;
    const to = this.sourceLine.length > 200 ? Math.min(this.sourceLine.length, this.loc.column - 1 + 60) : this.sourceLine.length;
    const shown = `${from > 0 ? "..." : ""}${visible(this.sourceLine.slice(from, to))}${to < this.sourceLine.length ? "..." : ""}`;
    // Keep tabs so the caret lines up under tab-indented code (and under escaped characters).
    const pad = ((from > 0 ? "..." : "") + visible(this.sourceLine.slice(from, Math.max(from, this.loc.column - 1)))).replace(/[^\t]/g, " ");
    return `${head}\n ${num} | ${shown}\n ${gutter} | ${pad}^`;
  }
}

/** A CLI's catch around loading scripts: a ScriptError is printed located (exit 2); anything else propagates. */
export function reportScriptError(err: unknown): ExitCode {
  if (!(err instanceof ScriptError)) throw err;
  console.error(err.format());
  return EXIT.usage;
}

export function lineOf(source: string, line: number): string | null {
  const lines = source.split(/\r\n|\n|\r/);
  return lines[line - 1] ?? null;
}
