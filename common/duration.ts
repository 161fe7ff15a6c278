// Durations in flags, scripts and plans: a bare number is milliseconds; strings take a unit
// (250ms, 5s, 2m, 1h) or several, largest first (1h30m, 4m30s).

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, or null when the text is not a duration. */
export function parseDuration(v: string | number): number | null {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v);
  if (m !== null) return Number(m[1]) * (UNITS[m[2] ?? "ms"] ?? 1);
  const parts = /^\s*(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?\s*$/.exec(v);
  if (parts === null || parts.slice(1).every((p) => p === undefined)) return null;
  const [h, min, sec, ms] = parts.slice(1).map((p) => Number(p ?? 0)) as [number, number, number, number];
  return h * 3_600_000 + min * 60_000 + sec * 1000 + ms;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  return `${+(ms / 60_000).toFixed(1)}m`;
}
