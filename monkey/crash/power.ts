// Power cuts during a flood: the target runs with its durable directories on the recording file
// system; a cut kills every process of the MTA at once, leaves on disk only what the persistence
// model says survives the operations recorded since the last start, and starts the MTA again on
// it (recording afresh). The ledger then finds the acknowledged mail each cut lost.
import { mkdtemp, rm } from "node:fs/promises";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { durableBinds, RecordingFs } from "../../targets/process/recfs.js";
import type { Target } from "../../targets/target.js";
import { Rng } from "../../common/rng.js";
import type { PersistenceModel } from "./models.js";
import { snapshotDir } from "./record.js";
import { crashTree, materialize } from "./tree.js";
import { buildTrace, isSync, type ObjId, type Snapshot } from "./trace.js";

const run = promisify(execFile);

export interface PowerCutResult {
  /** when every process of the MTA was dead (ms since epoch): mail acknowledged before it is the cut's to keep */
  at: number;
  /** operations recorded since the last start */
  ops: number;
  /** of them, lost to the cut */
  dropped: number;
}

export class PowerSupply {
  private rec: RecordingFs | null = null;
  private root: string | null = null;
  private first: { snapshot: Snapshot; inodes: Map<ObjId, number> } | null = null;
  private dir: string | null = null;
  private cuts = 0;
  private target: Target | null = null;

  constructor(private readonly seed: number) {}

  /** The target's beforeLaunch: its durable directories go on a fresh recording file system before each start. */
  readonly beforeLaunch = async (dir: string, target: Target): Promise<void> => {
    if (this.rec !== null) return;
    this.attach(target);
    const durable = target.durableDirs?.() ?? [];
    if (durable.length === 0) throw new Error("power.cut: the target names no durable directories");
    this.dir = dir;
    this.root = await mkdtemp(join(tmpdir(), "smtpchaos-recfs-"));
    this.rec = await RecordingFs.mount(this.root, durableBinds(dir, durable));
    this.first = await snapshotDir(this.rec.dataDir);
  };

  /** The target this supply feeds (set before its first start). */
  attach(target: Target): void {
    if (target.powerCut === undefined) throw new Error(`power.cut: ${target.name} cannot be cut off (it runs inside this process)`);
    this.target = target;
  }

  /** One cut: kill, drop what the model loses, start again. */
  async cut(model: PersistenceModel): Promise<PowerCutResult> {
    const target = this.target;
    const rec = this.rec;
    if (target === null || rec === null || this.first === null || this.dir === null) throw new Error("power.cut: the target is not running on the recording file system");
    await target.powerCut?.();
    const at = Date.now();
    const ops = await rec.ops();
    await this.unmount();
    const durable = [...(target.durableDirs?.() ?? [])];
    const trace = buildTrace(this.first.snapshot, this.first.inodes, ops, new Map(), new Set(), durable);
    const k = trace.ops.length;
    const [survived] = model.states(trace.ops, k, 1, new Rng(this.seed, `power.cut.${this.cuts++}`)) as [Uint8Array];
    for (const d of durable) await rm(join(this.dir, d), { recursive: true, force: true });
    await materialize(crashTree(trace, k, survived), this.dir);
    await target.start();
    return { at, ops: k, dropped: trace.ops.filter((op, i) => survived[i] !== 1 && !isSync(op)).length };
  }

  /**
   * The target stopped (its onStopped): what it wrote goes back into its instance directory, so a
   * later start there (recording again) finds it, then the recording is unmounted.
   */
  async stopped(): Promise<void> {
    const rec = this.rec;
    const dir = this.dir;
    const durable = this.target?.durableDirs?.() ?? [];
    await this.unmount(async () => {
      if (rec === null || dir === null) return;
      for (const d of durable) {
        await rm(join(dir, d), { recursive: true, force: true });
        await run("cp", ["-a", join(rec.dataDir, d), join(dir, d)]);
      }
    });
  }

  /** Unmounts (after the target stopped); `keep` runs once the mounts are gone, before the backing data is; idempotent. */
  async unmount(keep?: () => Promise<void>): Promise<void> {
    const rec = this.rec;
    this.rec = null;
    await rec?.unmount();
    if (rec !== null) await keep?.();
    if (this.root !== null) await rm(this.root, { recursive: true, force: true, maxRetries: 3 });
    this.root = null;
  }
}
