// The recorded run: the target starts with its durable directories on the recording file system,
// a small workload goes through the shared engine (one message a transaction, a few at a time),
// the time each 250 after the final dot arrived is kept, the queue drains (deliveries are crash
// points too), and the target stops. What comes out is a Trace.
import { UserError } from "../../common/errors.js";
import { chmod, lstat, mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { teeObserver, runSmtpSession, type SessionResult, type StepObserver, type Traffic, type TrafficContext, type TrafficSession } from "../../smtp/index.js";
import { durableBinds, RecordingFs, type FsOp } from "../../targets/process/recfs.js";
import { deliveredIdsOf, type Target, type TargetHookOptions } from "../../targets/target.js";
import { Flood } from "../flood.js";
import { Ledger } from "../ledger.js";
import { Rng } from "../../common/rng.js";
import { sleep } from "../layers/layer.js";
import { buildTrace, type Birth, type ObjId, type Snapshot, type Trace } from "./trace.js";

export interface Workload {
  messages: number;
  concurrency: number;
  seed: number;
  timeoutMs: number;
  /** how long the queue may take to drain after the last message */
  drainMs: number;
}

/** A target to crash: made on an instance directory we own, with a hook run before each launch. */
export type CrashTargetFactory = (o: { dir?: string; beforeLaunch?: TargetHookOptions["beforeLaunch"] }) => Target;

export class CrashRunError extends UserError {}

/** A fresh instance directory the MTA's own users can traverse (mkdtemp makes it 0700). */
export async function instanceDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "smtpchaos-crash-"));
  await chmod(dir, 0o755);
  return dir;
}

/** The durable directories' state: one object per file and directory, with owners, modes and contents. */
export async function snapshotDir(top: string): Promise<{ snapshot: Snapshot; inodes: Map<ObjId, number> }> {
  const births = new Map<ObjId, Birth>();
  const entries = new Map<ObjId, Map<string, ObjId>>();
  const data = new Map<ObjId, Buffer>();
  const inodes = new Map<ObjId, number>();
  const byIno = new Map<number, ObjId>();
  let next = 0;
  const visit = async (path: string): Promise<ObjId> => {
    const st = await lstat(path);
    const known = byIno.get(st.ino);
    if (known !== undefined) return known; // a second name of a file
    const id = next++;
    byIno.set(st.ino, id);
    inodes.set(id, st.ino);
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    if (st.isDirectory()) {
      births.set(id, { kind: "dir", ...base });
      const e = new Map<string, ObjId>();
      entries.set(id, e);
      for (const name of (await readdir(path)).sort()) e.set(name, await visit(join(path, name)));
    } else if (st.isSymbolicLink()) births.set(id, { kind: "symlink", ...base, target: await readlink(path) });
    else if (st.isFIFO()) births.set(id, { kind: "fifo", ...base });
    else if (st.isSocket()) births.set(id, { kind: "socket", ...base });
    else {
      births.set(id, { kind: "file", ...base });
      data.set(id, await readFile(path));
    }
    return id;
  };
  const root = await visit(top);
  return { snapshot: { root, births, entries, data }, inodes };
}

/** One message a session, one recipient, sizes drawn from the seed; the time of each 250 after the dot. */
class CrashWorkload implements Traffic {
  readonly describe = "crash workload: one message a session";
  private started = 0;
  /** local port -> when the 250 after the dot was read (ns, CLOCK_MONOTONIC) */
  readonly ackAt = new Map<number, bigint>();
  private readonly rng: Rng;

  constructor(private readonly w: Workload) {
    this.rng = new Rng(w.seed, "crash.workload");
  }

  next(): TrafficSession | null {
    if (this.started >= this.w.messages) return null;
    this.started++;
    const size = 500 + this.rng.int(3500);
    return { kind: "crash", run: (ctx) => this.run(ctx, size) };
  }

  private run(ctx: TrafficContext, size: number): Promise<SessionResult> {
    let port: number | undefined;
    const mine: StepObserver = {
      connected: (p) => (port = p),
      reply: (step, r) => {
        if (step === "dot" && r.code >= 200 && r.code < 300 && port !== undefined) this.ackAt.set(port, process.hrtime.bigint());
      },
    };
    return runSmtpSession({ ...ctx.client, observer: teeObserver(mine, ctx.client.observer ?? {}), transactions: 1, transaction: (i) => ctx.mail.transaction(i, 1, size) });
  }
}

/** Runs the workload on the target with its durable directories recorded. Everything it mounts is unmounted on the way out. */
export async function recordRun(make: CrashTargetFactory, w: Workload, signal?: AbortSignal): Promise<Trace> {
  const dir = await instanceDir();
  const root = await mkdtemp(join(tmpdir(), "smtpchaos-recfs-"));
  let rec: RecordingFs | null = null;
  let first: { snapshot: Snapshot; inodes: Map<ObjId, number> } | null = null;
  let durable: readonly string[] = [];
  const target = make({
    dir,
    beforeLaunch: async (d) => {
      if (rec !== null) return;
      rec = await RecordingFs.mount(root, durableBinds(d, durable));
      first = await snapshotDir(rec.dataDir);
    },
  });
  durable = target.durableDirs?.() ?? [];
  if (durable.length === 0) throw new CrashRunError(`${target.name} has no durable directories: a target file needs durable: [queue, Maildir, ...]`);
  const ledger = new Ledger(`c${(w.seed >>> 0).toString(36)}`);
  const acks = new Map<string, bigint>();
  const sent = new Set<string>();
  const work = new CrashWorkload(w);
  try {
    await target.start();
    const flood = new Flood({
      host: target.endpoint.host,
      port: target.endpoint.port,
      mailboxes: target.mailboxes.slice(0, 1),
      ledger,
      seed: w.seed,
      concurrency: w.concurrency,
      durationMs: 3_600_000,
      maxSessions: w.messages,
      timeoutMs: w.timeoutMs,
      traffic: work,
      giveUpAfterMs: 10_000,
      onSession: (r, v) => {
        if (r.messageId === null || v.dotResult === "not-sent") return;
        sent.add(r.messageId);
        const at = r.clientPort === undefined ? undefined : work.ackAt.get(r.clientPort);
        if (v.dotResult === "accepted" && at !== undefined) acks.set(r.messageId, at);
      },
    });
    const stop = (): void => flood.stop();
    signal?.addEventListener("abort", stop);
    try {
      await flood.run();
    } finally {
      signal?.removeEventListener("abort", stop);
    }
    await drain(target, w.drainMs, signal);
    await target.stop();
    const r = rec as RecordingFs | null;
    if (r === null || first === null) throw new CrashRunError(`${target.name} started without its recording file system (its start did not call beforeLaunch)`);
    const ops: FsOp[] = await r.ops();
    await r.unmount();
    const f = first as { snapshot: Snapshot; inodes: Map<ObjId, number> };
    return buildTrace(f.snapshot, f.inodes, ops, acks, sent, [...durable]);
  } finally {
    await target.stop().catch(() => {});
    await (rec as RecordingFs | null)?.unmount();
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    await rm(root, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** How long a queue that is not empty may stay as it is (size and deliveries) before it counts as settled. */
const STILL_MS = 3_000;

/**
 * Flushes and waits until the queue is empty, or has stood still (same size, no new delivery)
 * for STILL_MS across flushes: what is left then is what recovery leaves (files the MTA keeps but
 * never delivers), not work in progress. Bounded by `ms`; an interrupt ends it at once.
 */
export async function drain(target: Target, ms: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + ms;
  await target.flushQueue().catch(() => {});
  if (target.queueObservable === false) {
    await target.settleMailboxes?.(1000, ms, signal);
    return;
  }
  let flushedAt = Date.now();
  let last = "";
  let since = Date.now();
  while (Date.now() < deadline && signal?.aborted !== true) {
    const n = await target.queueSize().catch(() => -1);
    if (n === 0) return;
    const delivered = (await deliveredIdsOf(target).catch(() => null))?.delivered.length ?? -1;
    const now = `${n}/${delivered}`;
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= STILL_MS) return;
    if (Date.now() - flushedAt > 1000) {
      await target.flushQueue().catch(() => {});
      flushedAt = Date.now();
    }
    await sleep(100);
  }
}
