// What went over the wire, in order, with timing: the evidence every reporter shows.

export type Direction = "client" | "server" | "info";

export interface TranscriptEntry {
  dir: Direction;
  /** milliseconds since the transcript started */
  at: number;
  data: string;
}

export interface TranscriptOptions {
  /** keep at most this many entries (oldest dropped); unlimited by default */
  maxEntries?: number;
}

export class Transcript {
  readonly entries: TranscriptEntry[] = [];
  readonly startedAt = performance.now();
  /** how many entries were dropped because of maxEntries */
  dropped = 0;
  private readonly maxEntries: number;

  constructor(options: TranscriptOptions = {}) {
    this.maxEntries = options.maxEntries ?? Infinity;
  }

  client(data: string | Buffer): void {
    this.add("client", typeof data === "string" ? data : data.toString("latin1"));
  }

  server(data: string | Buffer): void {
    this.add("server", typeof data === "string" ? data : data.toString("latin1"));
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

  private add(dir: Direction, data: string): void {
    this.entries.push({ dir, at: performance.now() - this.startedAt, data });
    if (this.entries.length > this.maxEntries) {
      this.entries.shift();
      this.dropped++;
    }
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

export function visible(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}
