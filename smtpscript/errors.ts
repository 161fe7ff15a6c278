// Errors in a script itself (syntax, unknown proc, undefined variable, include cycle): always
// located, always shown with the offending line and a caret.
import type { Loc } from "./ast.js";

export class ScriptError extends Error {
  constructor(
    readonly loc: Loc,
    readonly reason: string,
    /** the text of the offending line, when known */
    readonly sourceLine: string | null,
  ) {
    super(`${loc.file}:${loc.line}:${loc.column}: ${reason}`);
    this.name = "ScriptError";
  }

  /** Compiler-style report: location, reason, the line and a caret under the column. */
  format(): string {
    const head = `${this.loc.file}:${this.loc.line}:${this.loc.column}: error: ${this.reason}`;
    if (this.sourceLine === null) return head;
    const num = String(this.loc.line);
    const gutter = " ".repeat(num.length);
    // Keep tabs so the caret lines up under tab-indented code.
    const pad = this.sourceLine.slice(0, Math.max(0, this.loc.column - 1)).replace(/[^\t]/g, " ");
    return `${head}\n ${num} | ${this.sourceLine}\n ${gutter} | ${pad}^`;
  }
}

export function lineOf(source: string, line: number): string | null {
  const lines = source.split(/\r\n|\n|\r/);
  return lines[line - 1] ?? null;
}
