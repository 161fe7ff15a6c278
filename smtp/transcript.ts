// What went over the wire, in order, with timing: the evidence every reporter shows.

export type Direction = "client" | "server" | "info";

import { visible } from "../common/visible.js";

/** Re-exported: the one helper that makes control characters visible lives in common/. */
export { visible };

export interface TranscriptEntry {
  dir: Direction;
  /** milliseconds since the transcript started */
  at: number;
  data: string;
}

export interface TranscriptOptions {
  /**
   * entries kept; past it the first `headEntries` stay, the oldest of the rest are dropped and one
   * marker entry says how many (a runaway server must not exhaust memory or the report)
   */
  maxEntries?: number;
  /** entries always kept from the start (the banner and greeting are the context of a failure) */
  headEntries?: number;
  /** bytes of one entry's data kept; the rest is cut with a note of its size */
  maxEntryBytes?: number;
}

export const DEFAULT_TRANSCRIPT_LIMITS: Required<TranscriptOptions> = { maxEntries: 2000, headEntries: 100, maxEntryBytes: 8 * 1024 };

export class Transcript {
  /** the kept entries, in order; after a cut, entry `headEntries` is the marker saying what was dropped */
  readonly entries: TranscriptEntry[] = [];
  readonly startedAt = performance.now();
  /** how many entries were dropped because of maxEntries */
  dropped = 0;
  private readonly maxEntries: number;
  private readonly head: number;
  private readonly maxEntryBytes: number;

  constructor(options: TranscriptOptions = {}) {
    const d = DEFAULT_TRANSCRIPT_LIMITS;
    this.maxEntries = Math.max(2, options.maxEntries ?? d.maxEntries);
    // The head and the marker must leave room for a tail.
    this.head = Math.max(0, Math.min(options.headEntries ?? d.headEntries, Math.floor(this.maxEntries / 2) - 1));
    this.maxEntryBytes = options.maxEntryBytes ?? d.maxEntryBytes;
  }

  client(data: string | Buffer): void {
    this.add("client", data);
  }

  server(data: string | Buffer): void {
    this.add("server", data);
  }

  info(text: string): void {
    this.add("info", text);
  }

  tail(n: number): TranscriptEntry[] {
    return this.entries.slice(Math.max(0, this.entries.length - n));
  }

  format(entries: readonly TranscriptEntry[] = this.entries): string {
    return formatTranscript(entries);
  }

  private add(dir: Direction, raw: string | Buffer): void {
    const at = performance.now() - this.startedAt;
    let data: string;
    if (raw.length > this.maxEntryBytes) {
      const kept = typeof raw === "string" ? raw.slice(0, this.maxEntryBytes) : raw.toString("latin1", 0, this.maxEntryBytes);
      data = `${kept}\r\n[... ${raw.length - this.maxEntryBytes} more bytes not kept in the transcript]\r\n`;
    } else {
      data = typeof raw === "string" ? raw : raw.toString("latin1");
    }
    this.entries.push({ dir, at, data });
    if (this.entries.length <= this.maxEntries) return;
    // Keep the head, one marker, and the newest entries.
    if (this.dropped === 0) {
      this.entries.splice(this.head, 2, { dir: "info", at, data: "" });
      this.dropped = 2;
    } else {
      this.entries.splice(this.head + 1, 1);
      this.dropped++;
    }
    (this.entries[this.head] as TranscriptEntry).data = `[... ${this.dropped} transcript entries cut here; the first ${this.head} and the last ${this.entries.length - this.head - 1} are kept]`;
  }
}

const PREFIX: Record<Direction, string> = { client: ">>>", server: "<<<", info: "***" };

/**
 * One line per wire line: `<<< 250 ok` with bare line endings and control bytes made visible
 * (a bare LF shows as `\n`, a CRLF is the line break itself).
 */
export function formatTranscript(entries: readonly TranscriptEntry[]): string {
  const out: string[] = [];
  for (const e of entries) {
    const t = `${(e.at / 1000).toFixed(3).padStart(8)}s`;
    if (e.dir === "info") {
      out.push(`${t} ${PREFIX.info} ${e.data}`);
      continue;
    }
    const pieces = e.data.split("\r\n");
    if (pieces.length > 1 && pieces[pieces.length - 1] === "") pieces.pop();
    for (const p of pieces) out.push(`${t} ${PREFIX[e.dir]} ${visible(p)}`);
  }
  return out.join("\n");
}

