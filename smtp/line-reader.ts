// Splits a byte stream into lines and keeps what terminated each one, so callers can tell a
// proper CRLF from a bare LF or a bare CR (the raw material of SMTP smuggling checks).

export type LineEnding = "CRLF" | "LF" | "CR" | "EOF";

export interface Line {
  /** the line without its terminator, decoded as UTF-8 */
  text: string;
  ending: LineEnding;
}

const CR = 0x0d;
const LF = 0x0a;

export interface LineReaderOptions {
  /** bytes without a terminator before the reader gives up (protects against a server that never ends a line) */
  maxLineBytes?: number;
}

export class LineTooLongError extends Error {
  constructor(readonly limit: number) {
    super(`line longer than ${limit} bytes without a terminator`);
    this.name = "LineTooLongError";
  }
}

export class LineReader {
  private pending: Buffer | null = null;
  private readonly maxLineBytes: number;

  constructor(options: LineReaderOptions = {}) {
    // RFC 5321 caps a reply line at 512 octets; 64 KiB leaves room for odd servers, not for runaway ones.
    this.maxLineBytes = options.maxLineBytes ?? 64 * 1024;
  }

  /** Bytes received but not yet part of a complete line. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  push(chunk: Buffer): Line[] {
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    const lines: Line[] = [];
    let start = 0;
    let nextLf = buf.indexOf(LF, start);
    let nextCr = buf.indexOf(CR, start);
    while (nextLf !== -1 || nextCr !== -1) {
      if (nextCr !== -1 && (nextLf === -1 || nextCr < nextLf)) {
        // A CR at the very end may be the first half of a CRLF split across chunks.
        if (nextCr === buf.length - 1) break;
        if (buf[nextCr + 1] === LF) {
          lines.push({ text: buf.toString("utf8", start, nextCr), ending: "CRLF" });
          start = nextCr + 2;
          nextLf = buf.indexOf(LF, start);
        } else {
          lines.push({ text: buf.toString("utf8", start, nextCr), ending: "CR" });
          start = nextCr + 1;
        }
        nextCr = buf.indexOf(CR, start);
      } else {
        lines.push({ text: buf.toString("utf8", start, nextLf), ending: "LF" });
        start = nextLf + 1;
        nextLf = buf.indexOf(LF, start);
      }
    }
    if (start < buf.length) {
      if (buf.length - start > this.maxLineBytes) throw new LineTooLongError(this.maxLineBytes);
      this.pending = start === 0 ? buf : buf.subarray(start);
    }
    return lines;
  }

  /** Flushes an unterminated tail at end of stream (a lone trailing CR counts as a CR line). */
  end(): Line[] {
    const rest = this.pending;
    this.pending = null;
    if (rest === null || rest.length === 0) return [];
    if (rest[rest.length - 1] === CR) return [{ text: rest.toString("utf8", 0, rest.length - 1), ending: "CR" }];
    return [{ text: rest.toString("utf8"), ending: "EOF" }];
  }
}
