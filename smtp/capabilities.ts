// EHLO keywords (RFC 5321 section 4.1.1.1): the first reply line is the greeting, each further
// line one extension keyword with optional parameters.
import type { Reply } from "./reply.js";

/** distinct EHLO replies remembered (a few servers per run; bounded whatever a peer sends) */
const SEEN_MAX = 64;
const SEEN = new Map<string, Capabilities>();

export class Capabilities {
  private readonly map: ReadonlyMap<string, string[]>;

  constructor(map: ReadonlyMap<string, string[]>) {
    this.map = map;
  }

  /** What a server offers before its EHLO reply: nothing (one shared instance). */
  static readonly NONE = new Capabilities(new Map());

  /**
   * The capabilities an EHLO reply advertises. A server says the same to every client, and a
   * storm holds thousands of sessions: one instance (they are immutable) per distinct reply.
   */
  static fromEhlo(reply: Reply): Capabilities {
    const key = reply.code === 250 ? reply.lines.join("\n") : "";
    const known = SEEN.get(key);
    if (known !== undefined) return known;
    const parsed = Capabilities.parse(reply);
    if (SEEN.size >= SEEN_MAX) SEEN.delete(SEEN.keys().next().value as string);
    SEEN.set(key, parsed);
    return parsed;
  }

  private static parse(reply: Reply): Capabilities {
    const map = new Map<string, string[]>();
    if (reply.code !== 250) return new Capabilities(map);
    for (const line of reply.lines.slice(1)) {
      const parts = line.trim().split(/\s+/).filter((p) => p !== "");
      const head = parts.shift();
      if (head === undefined) continue;
      // Pre-standard servers advertise "AUTH=LOGIN PLAIN".
      const eq = head.indexOf("=");
      const keyword = (eq === -1 ? head : head.slice(0, eq)).toUpperCase();
      if (eq !== -1) parts.unshift(head.slice(eq + 1));
      const prev = map.get(keyword);
      map.set(keyword, prev === undefined ? parts : [...prev, ...parts]);
    }
    return new Capabilities(map);
  }

  has(name: string): boolean {
    return this.map.has(name.toUpperCase());
  }

  params(name: string): readonly string[] | undefined {
    return this.map.get(name.toUpperCase());
  }

  /** The SIZE limit in bytes: null when SIZE is not advertised, 0 when advertised without a fixed limit. */
  size(): number | null {
    const p = this.map.get("SIZE");
    if (p === undefined) return null;
    const n = Number(p[0] ?? "0");
    return Number.isFinite(n) ? n : 0;
  }

  names(): string[] {
    return [...this.map.keys()];
  }
}
