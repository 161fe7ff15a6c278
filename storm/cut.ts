// The storm's cut (its hard deadline, or a second Ctrl-C) reaches every session in flight through
// one signal per storm, not one AbortController per session: a session costs a Set entry, in and
// out in O(1), where an abort listener each would cost an object and an O(n) removal.
const waiting = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `fn` once when `signal` aborts (at once if it has), until stopCut(signal, fn). A Set
 * holds a function once: each waiter passes its own (a promise's resolve will do). */
export function awaitCut(signal: AbortSignal, fn: () => void): void {
  if (signal.aborted) {
    fn();
    return;
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
}

/** `fn` no longer waits for the cut. */
export function stopCut(signal: AbortSignal, fn: () => void): void {
  waiting.get(signal)?.delete(fn);
}

/** awaitCut, with what stops waiting. */
export function onCut(signal: AbortSignal, fn: () => void): () => void {
  awaitCut(signal, fn);
  return () => stopCut(signal, fn);
}
