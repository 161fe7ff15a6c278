// A storm on several worker threads: each runs its segment of the load (its own seed derived
// from the run's) and sends its metrics as a snapshot every second and at the end; the parent
// merges them into one live progress line and one result, as if one process had run it all.
import { Worker } from "node:worker_threads";
import type { Metrics } from "./metrics.js";
import { metricsFrom, mergeSnapshots } from "./snapshot.js";
import type { MetricsSnapshot } from "./snapshot.js";
import { segmentOptions } from "./segment.js";
import type { SessionFailure, StormOptions, StormResult } from "./scheduler.js";

/** What a worker needs, as data: a failure is ungraceful, or slower than slowSessionMs. */
export type WorkerOptions = Omit<StormOptions, "signal" | "cutSignal" | "onTick" | "onStopped" | "isFailure" | "workers"> & { slowSessionMs?: number };

export type FromWorker =
  | { type: "tick"; snapshot: MetricsSnapshot }
  | { type: "stopped" }
  | { type: "done"; snapshot: MetricsSnapshot; failure: (SessionFailure & { at: number }) | null; durationMs: number; unreachable?: string }
  | { type: "error"; message: string };

/** "stop": Ctrl-C (in-flight sessions finish); "cut": a second one (they end now, "overdue") */
export type ToWorker = { type: "stop" } | { type: "cut" };

export async function runParallel(o: StormOptions & { workers: number; slowSessionMs?: number }): Promise<StormResult> {
  // Parts whose share is nothing (one session over two workers) are not started.
  const parts = Array.from({ length: o.workers }, (_, i) => segmentOptions(o, { index: i, count: o.workers })).filter((p) => p.maxSessions !== 0 && (p.stages !== undefined || (p.concurrency ?? 0) > 0 || (p.rate ?? 0) > 0));
  const n = parts.length;
  const startedAt = Date.now();
  const latest: MetricsSnapshot[] = [];
  const finals: Array<Extract<FromWorker, { type: "done" }>> = [];
  let stoppedCount = 0;
  const workers: Worker[] = [];
  const runs: Array<Promise<void>> = [];
  for (let i = 0; i < n; i++) {
    const part = parts[i] as StormOptions;
    const { signal: _s, cutSignal: _c, onTick: _t, onStopped: _o, isFailure: _f, workers: _w, ...data } = part;
    const w = new Worker(new URL("./worker.js", import.meta.url), { workerData: data satisfies WorkerOptions });
    workers.push(w);
    runs.push(
      new Promise<void>((resolve, reject) => {
        w.on("message", (msg: FromWorker) => {
          if (msg.type === "tick") latest[i] = msg.snapshot;
          else if (msg.type === "stopped") {
            if (++stoppedCount === n) o.onStopped?.();
          } else if (msg.type === "done") {
            latest[i] = msg.snapshot;
            finals[i] = msg;
            resolve();
          } else reject(new Error(`storm worker ${i + 1}/${n}: ${msg.message}`));
        });
        w.on("error", (err) => reject(new Error(`storm worker ${i + 1}/${n}: ${err.message}`, { cause: err })));
        w.on("exit", (code) => {
          if (finals[i] === undefined) reject(new Error(`storm worker ${i + 1}/${n} exited (${code}) without a result`));
        });
      }),
    );
  }
  const stopAll = (): void => {
    for (const w of workers) w.postMessage({ type: "stop" } satisfies ToWorker);
  };
  const cutAll = (): void => {
    for (const w of workers) w.postMessage({ type: "cut" } satisfies ToWorker);
  };
  o.signal?.addEventListener("abort", stopAll);
  o.cutSignal?.addEventListener("abort", cutAll);
  // One live line for all: the parts' latest snapshots merged, once a second.
  const ticker = setInterval(() => {
    if (latest.length > 0) o.onTick?.(metricsFrom(mergeSnapshots(latest.filter((s) => s !== undefined))), Date.now() - startedAt);
  }, 1000);
  try {
    await Promise.all(runs);
  } catch (err) {
    stopAll();
    await Promise.allSettled(workers.map((w) => w.terminate()));
    throw err;
  } finally {
    clearInterval(ticker);
    o.signal?.removeEventListener("abort", stopAll);
    o.cutSignal?.removeEventListener("abort", cutAll);
  }
  const merged = mergeSnapshots(finals.map((f) => f.snapshot));
  const metrics: Metrics = metricsFrom(merged);
  // The first failure in wall-clock time is the run's first failure.
  const failures = finals.map((f) => f.failure).filter((f) => f !== null);
  failures.sort((a, b) => a.at - b.at);
  const first = failures[0];
  // every worker stopped early on refusals: so did the run
  const unreachable = finals.every((f) => f.unreachable !== undefined) ? finals[0]?.unreachable : undefined;
  return {
    ...(unreachable !== undefined ? { unreachable: unreachable.replace(/the first \d+ sessions/, `the first ${metrics.sessions} sessions`) } : {}),
    metrics,
    startedAt: (merged.timeline[0]?.at ?? Math.round(startedAt / 1000)) * 1000,
    seed: o.seed,
    durationMs: Math.max(...finals.map((f) => f.durationMs)),
    interrupted: o.signal?.aborted === true || o.cutSignal?.aborted === true,
    model: o.model ?? (o.rate !== undefined ? "open" : "closed"),
    failure: first === undefined ? null : { plan: first.plan, origin: first.origin, outcome: first.outcome, elapsedMs: first.elapsedMs },
  };
}
