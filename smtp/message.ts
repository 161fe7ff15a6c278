// Building and encoding messages for the DATA phase (RFC 5321 section 4.5.2 transparency).
import { randomBytes } from "node:crypto";

/** Every message the toolkit sends carries this header; the ledger matches deliveries by it. */
export const MESSAGE_ID_HEADER = "X-Smtpchaos-Id";

export const END_OF_DATA = Buffer.from("\r\n.\r\n");

export interface MessageSpec {
  from: string;
  to: readonly string[];
  subject?: string;
  /** ledger id; generated when absent */
  id?: string;
  headers?: Readonly<Record<string, string>>;
  /** explicit body; line endings are normalised to CRLF */
  body?: string | Buffer;
  /** generate a body of this many bytes (CRLF lines of printable ASCII) instead of `body` */
  size?: number;
  /** Date header value; fixed dates keep seeded runs byte-identical */
  date?: Date;
}

let counter = 0;
const runTag = randomBytes(4).toString("hex");

/** A unique id: random per process plus a counter, short enough to keep millions in a ledger. */
export function newMessageId(): string {
  counter += 1;
  return `${runTag}-${counter.toString(36)}`;
}

export function buildMessage(spec: MessageSpec): { id: string; data: Buffer } {
  const id = spec.id ?? newMessageId();
  const head: string[] = [
    `From: <${spec.from}>`,
    `To: ${spec.to.map((t) => `<${t}>`).join(", ")}`,
    `Subject: ${spec.subject ?? `smtpchaos ${id}`}`,
    `Date: ${(spec.date ?? new Date()).toUTCString()}`,
    `Message-ID: <${id}@smtpchaos.invalid>`,
    `${MESSAGE_ID_HEADER}: ${id}`,
  ];
  for (const [k, v] of Object.entries(spec.headers ?? {})) head.push(`${k}: ${v}`);
  const body = spec.size !== undefined ? generatedBody(spec.size) : normalizeLineEndings(spec.body ?? "");
  const headBuf = Buffer.from(head.join("\r\n") + "\r\n\r\n", "utf8");
  return { id, data: Buffer.concat([headBuf, body]) };
}

const FILL_LINE = Buffer.from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-the-quick-brown-fox\r\n");

/** Exactly `size` bytes of CRLF-terminated lines (the last line shortened to fit). */
export function generatedBody(size: number): Buffer {
  if (!Number.isInteger(size) || size < 0) throw new RangeError(`body size must be a non-negative integer, got ${size}`);
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  while (off + FILL_LINE.length <= size) {
    FILL_LINE.copy(out, off);
    off += FILL_LINE.length;
  }
  const rest = size - off;
  if (rest >= 2) {
    FILL_LINE.copy(out, off, 0, rest - 2);
    out[size - 2] = 0x0d;
    out[size - 1] = 0x0a;
  } else if (rest === 1) {
    out[off] = 0x78;
  }
  return out;
}

/** Turns bare LF and bare CR into CRLF, so that no bare line ending reaches the wire by accident. */
export function normalizeLineEndings(data: string | Buffer): Buffer {
  const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  // Storm sends every message through here: check CRLF-clean data with native indexOf (a
  // byte loop in JS costs ~2 µs per KB) and only copy when something needs fixing.
  if (isCrlfClean(buf)) return buf;
  const out = Buffer.allocUnsafe(buf.length * 2);
  let o = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i] as number;
    if (b === 0x0d || b === 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
      if (b === 0x0d && buf[i + 1] === 0x0a) i++;
    } else {
      out[o++] = b;
    }
  }
  return out.subarray(0, o);
}

/** True when every CR is followed by LF and every LF preceded by CR. */
function isCrlfClean(buf: Buffer): boolean {
  let cr = buf.indexOf(0x0d);
  let lf = buf.indexOf(0x0a);
  while (cr !== -1 || lf !== -1) {
    if (cr === -1 || lf !== cr + 1) return false;
    cr = buf.indexOf(0x0d, lf + 1);
    lf = buf.indexOf(0x0a, lf + 1);
  }
  return true;
}

const DOT = Buffer.from(".");
const DOT_CRLF = Buffer.from(".\r\n");

/** Dot-stuffs CRLF-normalised data: a "." that starts a line gets a second one. */
export function dotStuff(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  if (data[0] === 0x2e) parts.push(DOT);
  let start = 0;
  let i = data.indexOf("\r\n.", 0);
  while (i !== -1) {
    parts.push(data.subarray(start, i + 2), DOT);
    start = i + 2;
    i = data.indexOf("\r\n.", start);
  }
  if (parts.length === 0) return data;
  parts.push(data.subarray(start));
  return Buffer.concat(parts);
}

/** Dot-stuffed data followed by the end-of-data marker CRLF "." CRLF (no empty line added when data ends in CRLF). */
export function encodeData(data: Buffer): Buffer {
  const endsWithCrlf = data.length >= 2 && data[data.length - 2] === 0x0d && data[data.length - 1] === 0x0a;
  return Buffer.concat([dotStuff(data), endsWithCrlf ? DOT_CRLF : END_OF_DATA]);
}

/** Reverses encodeData for received data (without the terminator): removes one leading dot per line. */
export function dotUnstuff(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = data[0] === 0x2e ? 1 : 0;
  let i = data.indexOf("\r\n.", start);
  while (i !== -1) {
    parts.push(data.subarray(start, i + 2));
    start = i + 3;
    i = data.indexOf("\r\n.", start);
  }
  parts.push(data.subarray(start));
  return Buffer.concat(parts);
}

/** The ledger id of a raw message (header section only), or null. */
export function readMessageId(raw: Buffer | string): string | null {
  const text = typeof raw === "string" ? raw : raw.toString("latin1", 0, Math.min(raw.length, 64 * 1024));
  const endOfHead = text.search(/\r?\n\r?\n/);
  const head = endOfHead === -1 ? text : text.slice(0, endOfHead);
  const m = new RegExp(`^${MESSAGE_ID_HEADER}:[ \\t]*(\\S+)`, "im").exec(head);
  if (m === null) return null;
  const id = m[1] as string;
  if (typeof raw === "string") return id;
  // A substring keeps its whole parent string alive (V8 sliced strings): decode just the id's
  // bytes, so a reconcile holding 370k ids does not hold 370k message heads (916 MiB seen).
  const start = m.index + m[0].length - id.length;
  return raw.toString("latin1", start, start + id.length);
}
