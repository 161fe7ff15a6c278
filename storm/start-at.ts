// `--start-at`: shards on many machines start at one wall-clock instant (their clocks agree
// within NTP's milliseconds), so their load overlaps as one run's would.

const MAX_WAIT_MS = 24 * 3600 * 1000;

/** An ISO 8601 instant with its zone ("2026-12-03T15:00:00Z") or Unix seconds; at most 24 h ahead. */
export function parseStartAt(text: string, now = Date.now()): number {
  const t = /^\d{9,11}(\.\d+)?$/.test(text.trim()) ? Number(text) * 1000 : /(Z|[+-]\d\d:?\d\d)$/i.test(text.trim()) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(t)) throw new RangeError(`--start-at expects an ISO 8601 time with its zone (2026-12-03T15:00:00Z) or Unix seconds, got "${text}"`);
  if (t - now > MAX_WAIT_MS) throw new RangeError(`--start-at ${text} is more than 24 h ahead`);
  return t;
}

/** Resolves at `at` (at once when it has passed), or early when `signal` aborts. */
export function waitUntil(at: number, signal?: AbortSignal): Promise<void> {
  const ms = at - Date.now();
  if (ms <= 0 || signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}
