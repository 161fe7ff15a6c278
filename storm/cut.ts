// The storm's cut (its hard deadline, or a second Ctrl-C) reaches every session in flight through
// one signal per storm, not one AbortController per session: a session costs a Set entry, in and
// out in O(1), where an abort listener each would cost an object and an O(n) removal.
const waiting = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `fn` once when `signal` aborts (at once if it has); returns what stops waiting. Each
 * waiter passes a function of its own (a Set holds a function once). */
export function onCut(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    fn();
    return () => {};
  }
  let set = waiting.get(signal);
  if (set === undefined) {
    const all = new Set<() => void>();
    signal.addEventListener(
      "abort",
      () => {
        for (const f of all) f();
        all.clear();
      },
      { once: true },
    );
    waiting.set(signal, all);
    set = all;
  }
  set.add(fn);
  const mine = set;
  return () => void mine.delete(fn);
}
