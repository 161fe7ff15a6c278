// Source addresses for a storm's connections: one loopback address has about 28k ephemeral
// ports towards one server port, so holding more sessions than that needs several sources.
import net from "node:net";
import { isLoopback } from "../common/loopback.js";

const MAX_SOURCES = 1024;

function v4(text: string): number {
  if (net.isIPv4(text)) return text.split(".").reduce((a, b) => a * 256 + Number(b), 0);
  throw new RangeError(`--source: "${text}" is not an IPv4 address`);
}

const dotted = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

/** "127.0.0.2-127.0.0.9" or "127.0.0.2,127.0.0.3": IPv4 loopback addresses (127.0.0.0/8), at most 1024. */
export function parseSources(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(",").map((p) => p.trim())) {
    const [a, b] = part.split("-").map((x) => x.trim());
    const from = v4(a ?? "");
    const to = b === undefined ? from : v4(b);
    if (to < from) throw new RangeError(`--source: range "${part}" ends before it starts`);
    if (to - from + out.length >= MAX_SOURCES) throw new RangeError(`--source: more than ${MAX_SOURCES} addresses`);
    for (let n = from; n <= to; n++) out.push(dotted(n));
  }
  // Sources must be this machine's: the loopback network always is, on Linux whole /8.
  const foreign = out.find((a) => !isLoopback(a));
  if (foreign !== undefined) throw new RangeError(`--source: ${foreign} is not a loopback address (127.0.0.0/8)`);
  return out;
}
