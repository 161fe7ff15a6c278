// SMTP replies (RFC 5321 section 4.2) with enhanced status codes (RFC 3463 / RFC 2034).
import type { Line } from "./line-reader.js";
import { LineReader } from "./line-reader.js";
import { SmtpProtocolError } from "./errors.js";

export type ReplyClass = "ok" | "intermediate" | "tempfail" | "permfail";

export interface EnhancedCode {
  klass: 2 | 4 | 5;
  subject: number;
  detail: number;
  /** as written, e.g. "4.7.1" */
  text: string;
}

export interface Reply {
  code: number;
  klass: ReplyClass;
  enhanced: EnhancedCode | null;
  /** the text of each line after "NNN-" / "NNN " */
  lines: string[];
  /** lines joined with "\n" */
  text: string;
  /** the reply as received, line terminators included */
  raw: string;
  /** true when some line of the reply did not end in CRLF */
  bareLineEnding: boolean;
}

export function replyClass(code: number): ReplyClass {
  const first = Math.floor(code / 100);
  if (first === 2) return "ok";
  if (first === 3) return "intermediate";
  if (first === 4) return "tempfail";
  if (first === 5) return "permfail";
  throw new RangeError(`not an SMTP reply code: ${code}`);
}

const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)/;

/** Reads an RFC 3463 code at the start of a reply text, when its class agrees with the reply code. */
export function parseEnhanced(code: number, text: string): EnhancedCode | null {
  const m = ENHANCED.exec(text);
  if (m === null) return null;
  const klass = Number(m[1]) as 2 | 4 | 5;
  if (klass !== Math.floor(code / 100)) return null;
  return { klass, subject: Number(m[2]), detail: Number(m[3]), text: m[0] };
}

/** Matches an enhanced code against "4.7.1", "4.7.*", "4.*.*" or "4.*" (missing parts match anything). */
export function matchEnhanced(code: EnhancedCode | null, pattern: string): boolean {
  if (code === null) return false;
  const parts = pattern.split(".");
  const actual = [code.klass, code.subject, code.detail];
  if (parts.length > 3) return false;
  return parts.every((p, i) => p === "*" || Number(p) === actual[i]);
}

/** Matches a reply code against "250", "25x" / "2xx" style patterns. */
export function matchCode(code: number, pattern: string): boolean {
  const s = String(code);
  if (pattern.length !== 3) return false;
  for (let i = 0; i < 3; i++) {
    const p = pattern[i];
    if (p !== "x" && p !== "X" && p !== "*" && p !== s[i]) return false;
  }
  return true;
}

const ENDING_BYTES = { CRLF: "\r\n", LF: "\n", CR: "\r", EOF: "" } as const;

export interface ReplyLimits {
  /** lines in one reply; an EHLO reply has a few dozen, so a thousand means a runaway server */
  maxLines?: number;
  /** bytes of one reply, terminators included */
  maxBytes?: number;
}

export const DEFAULT_REPLY_LIMITS: Required<ReplyLimits> = { maxLines: 1000, maxBytes: 256 * 1024 };

/**
 * Assembles reply lines into replies. A line is `NNN` followed by "-" (more lines follow),
 * " " or nothing (last line). Anything else is a protocol violation by the server, and so is a
 * reply beyond the limits: a server that never ends a multi-line reply must not exhaust memory.
 */
export class ReplyParser {
  private code = 0;
  private lines: string[] = [];
  private raw = "";
  private bare = false;
  private readonly maxLines: number;
  private readonly maxBytes: number;

  constructor(limits: ReplyLimits = {}) {
    this.maxLines = limits.maxLines ?? DEFAULT_REPLY_LIMITS.maxLines;
    this.maxBytes = limits.maxBytes ?? DEFAULT_REPLY_LIMITS.maxBytes;
  }

  /** True while a multi-line reply is half received. */
  get inProgress(): boolean {
    return this.lines.length > 0;
  }

  /** Text of a half-received reply, for error messages. */
  get partial(): string {
    return this.raw;
  }

  push(line: Line): Reply | null {
    const t = line.text;
    const c0 = t.charCodeAt(0) - 48;
    const c1 = t.charCodeAt(1) - 48;
    const c2 = t.charCodeAt(2) - 48;
    if (!(c0 >= 2 && c0 <= 5 && c1 >= 0 && c1 <= 9 && c2 >= 0 && c2 <= 9)) {
      this.reset();
      throw new SmtpProtocolError(t.length === 0 ? "empty line" : "line does not start with a 3-digit code 2xx-5xx", t);
    }
    const code = c0 * 100 + c1 * 10 + c2;
    const sep = t.length > 3 ? t[3] : "";
    if (sep !== "" && sep !== " " && sep !== "-") {
      this.reset();
      throw new SmtpProtocolError("code not followed by space or hyphen", t);
    }
    if (this.lines.length > 0 && code !== this.code) {
      const first = this.code;
      this.reset();
      throw new SmtpProtocolError(`continuation line has code ${code}, reply started with ${first}`, t);
    }
    if (this.lines.length >= this.maxLines) {
      const first = this.raw.slice(0, this.raw.indexOf("\n") + 1);
      this.reset();
      throw new SmtpProtocolError(`reply longer than ${this.maxLines} lines (the cap per reply)`, first);
    }
    if (this.raw.length + t.length > this.maxBytes) {
      this.reset();
      throw new SmtpProtocolError(`reply larger than ${this.maxBytes} bytes (the cap per reply)`, t.slice(0, 80));
    }
    this.code = code;
    this.lines.push(t.length > 4 ? t.slice(4) : "");
    this.raw += t + ENDING_BYTES[line.ending];
    if (line.ending !== "CRLF") this.bare = true;
    if (sep === "-") return null;
    const lines = this.lines;
    const reply: Reply = {
      code,
      klass: replyClass(code),
      enhanced: parseEnhanced(code, lines[0] ?? ""),
      lines,
      text: lines.length === 1 ? (lines[0] ?? "") : lines.join("\n"),
      raw: this.raw,
      bareLineEnding: this.bare,
    };
    this.reset();
    return reply;
  }

  private reset(): void {
    this.code = 0;
    this.lines = [];
    this.raw = "";
    this.bare = false;
  }
}

/** Parses a whole block of server output (tests, transcripts). Throws SmtpProtocolError on bad input or a truncated reply. */
export function parseReplies(text: string | Buffer): Reply[] {
  const reader = new LineReader();
  const parser = new ReplyParser();
  const out: Reply[] = [];
  const buf = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  for (const line of [...reader.push(buf), ...reader.end()]) {
    const r = parser.push(line);
    if (r !== null) out.push(r);
  }
  if (parser.inProgress) throw new SmtpProtocolError("reply truncated", parser.partial);
  return out;
}
