// One worker thread of a parallel storm (storm/parallel.ts): runs its segment and reports
// snapshots to the parent; "stop" from the parent is its Ctrl-C.
import { parentPort, workerData } from "node:worker_threads";
import { isFailureRule, runStorm } from "./scheduler.js";
import { snapshotOf } from "./snapshot.js";
import { loadPluginsFromEnv } from "../common/plugins.js";
import "./kinds/index.js";
import type { FromWorker, ToWorker, WorkerOptions } from "./parallel.js";

const port = parentPort;
if (port === null) throw new Error("storm/worker.js runs only as a worker thread");
const o = workerData as WorkerOptions;
const abort = new AbortController();
const cut = new AbortController();
port.on("message", (m: ToWorker) => {
  if (m.type === "stop") abort.abort();
  else if (m.type === "cut") cut.abort();
});
const post = (m: FromWorker): void => port.postMessage(m);
const startedAt = Date.now();
const failedAt: { at: number } = { at: 0 };
try {
  // the parent's plug-ins (their storm kinds) exist here only once loaded again
  await loadPluginsFromEnv();
  const isFailure = isFailureRule(o.slowSessionMs);
  const r = await runStorm({
    ...o,
    signal: abort.signal,
    cutSignal: cut.signal,
    isFailure: (outcome, ms) => {
      const failed = isFailure(outcome, ms);
      if (failed && failedAt.at === 0) failedAt.at = Date.now();
      return failed;
    },
    onTick: (m) => post({ type: "tick", snapshot: snapshotOf(m, startedAt) }),
    onStopped: () => post({ type: "stopped" }),
  });
  post({ type: "done", snapshot: snapshotOf(r.metrics, startedAt), failure: r.failure === null ? null : { ...r.failure, at: failedAt.at }, durationMs: r.durationMs, ...(r.unreachable !== undefined ? { unreachable: r.unreachable } : {}) });
} catch (err) {
  post({ type: "error", message: err instanceof Error ? err.message : String(err) });
}
port.close();
