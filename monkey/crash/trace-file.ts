// A trace on disk, so that one state of a crash run can be tried again (`smtpchaos crash replay`)
// without recording again: the same trace and seed give the same states.
import { UserError } from "../../common/errors.js";
import { readFile, writeFile } from "node:fs/promises";
import type { Birth, LogicalOp, ObjId, Trace } from "./trace.js";

const FORMAT = "smtpchaos-crash-trace/1";

export interface TraceFile {
  target: string;
  seed: number;
  trace: Trace;
}

type Json = Record<string, unknown>;

const buf = (b: Buffer): string => b.toString("base64");

export async function saveTrace(path: string, f: TraceFile): Promise<void> {
  const t = f.trace;
  const out = {
    format: FORMAT,
    target: f.target,
    seed: f.seed,
    durable: t.durable,
    snapshot: {
      root: t.snapshot.root,
      births: [...t.snapshot.births],
      entries: [...t.snapshot.entries].map(([d, e]) => [d, [...e]]),
      data: [...t.snapshot.data].map(([o, b]) => [o, buf(b)]),
    },
    births: [...t.births],
    ops: t.ops.map((op) => ({ ...op, at: op.at.toString(), ...(op.kind === "write" ? { data: buf(op.data) } : {}) })),
    acks: [...t.acks].map(([id, at]) => [id, at.toString()]),
    sent: [...t.sent],
  };
  await writeFile(path, JSON.stringify(out));
}

export class TraceFileError extends UserError {}

export async function loadTrace(path: string): Promise<TraceFile> {
  let o: Json;
  try {
    o = JSON.parse(await readFile(path, "utf8")) as Json;
  } catch (err) {
    throw new TraceFileError(`cannot read crash trace ${path}: ${(err as Error).message}`);
  }
  if (o.format !== FORMAT) throw new TraceFileError(`${path} is not a crash trace of this version (format ${JSON.stringify(o.format)}, expected ${FORMAT})`);
  const s = o.snapshot as { root: ObjId; births: Array<[ObjId, Birth]>; entries: Array<[ObjId, Array<[string, ObjId]>]>; data: Array<[ObjId, string]> };
  const ops = (o.ops as Json[]).map((op) => ({ ...op, at: BigInt(op.at as string), ...(op.kind === "write" ? { data: Buffer.from(op.data as string, "base64") } : {}) }) as unknown as LogicalOp);
  return {
    target: String(o.target),
    seed: Number(o.seed),
    trace: {
      durable: o.durable as string[],
      snapshot: { root: s.root, births: new Map(s.births), entries: new Map(s.entries.map(([d, e]) => [d, new Map(e)])), data: new Map(s.data.map(([id, b]) => [id, Buffer.from(b, "base64")])) },
      births: new Map(o.births as Array<[ObjId, Birth]>),
      ops,
      acks: new Map((o.acks as Array<[string, string]>).map(([id, at]) => [id, BigInt(at)])),
      sent: new Set(o.sent as string[]),
    },
  };
}
