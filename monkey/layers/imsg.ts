// OpenBSD imsg framing as OpenSMTPD 6.8's table-proc backend speaks it on fd 0.
// Header (host byte order): u32 type, u16 len (including the 16-byte header), u16 flags,
// u32 peerid, u32 pid. Lookup/check request data: i32 service, u64 nparams (0), key NUL.
import { endianness } from "node:os";

export const IMSG_HEADER_SIZE = 16;
/** imsg's MAX_IMSGSIZE */
export const IMSG_MAX = 16384;

export const PROC_TABLE = {
  OK: 0,
  FAIL: 1,
  OPEN: 2,
  CLOSE: 3,
  UPDATE: 4,
  CHECK: 5,
  LOOKUP: 6,
  FETCH: 7,
} as const;
export const PROC_TABLE_API_VERSION = 2;
/** char name[LINE_MAX] in struct table_open_params */
export const TABLE_NAME_SIZE = 2048;

export interface Imsg {
  type: number;
  flags: number;
  peerid: number;
  pid: number;
  data: Buffer;
}

const LE = endianness() === "LE";

export function encodeImsg(m: { type: number; data?: Buffer; flags?: number; peerid?: number; pid?: number }): Buffer {
  const data = m.data ?? Buffer.alloc(0);
  const len = IMSG_HEADER_SIZE + data.length;
  if (len > IMSG_MAX) throw new RangeError(`imsg too large: ${len} > ${IMSG_MAX}`);
  const h = Buffer.alloc(IMSG_HEADER_SIZE);
  if (LE) {
    h.writeUInt32LE(m.type, 0);
    h.writeUInt16LE(len, 4);
    h.writeUInt16LE(m.flags ?? 0, 6);
    h.writeUInt32LE(m.peerid ?? 0, 8);
    h.writeUInt32LE(m.pid ?? 0, 12);
  } else {
    h.writeUInt32BE(m.type, 0);
    h.writeUInt16BE(len, 4);
    h.writeUInt16BE(m.flags ?? 0, 6);
    h.writeUInt32BE(m.peerid ?? 0, 8);
    h.writeUInt32BE(m.pid ?? 0, 12);
  }
  return Buffer.concat([h, data]);
}

export class ImsgError extends Error {}

export class ImsgReader {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Imsg[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Imsg[] = [];
    while (this.buf.length >= IMSG_HEADER_SIZE) {
      const len = LE ? this.buf.readUInt16LE(4) : this.buf.readUInt16BE(4);
      if (len < IMSG_HEADER_SIZE) throw new ImsgError(`bad imsg length ${len}`);
      if (this.buf.length < len) break;
      const rd = (off: number): number => (LE ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off));
      out.push({
        type: rd(0),
        flags: LE ? this.buf.readUInt16LE(6) : this.buf.readUInt16BE(6),
        peerid: rd(8),
        pid: rd(12),
        data: Buffer.from(this.buf.subarray(IMSG_HEADER_SIZE, len)),
      });
      this.buf = this.buf.subarray(len);
    }
    return out;
  }
}

export interface TableRequest {
  service: number;
  nparams: number;
  /** absent for FETCH */
  key: string | null;
}

/** Decodes the data of a CHECK/LOOKUP (with key) or FETCH (without) request. */
export function decodeTableRequest(data: Buffer, withKey: boolean): TableRequest {
  if (data.length < 12) throw new ImsgError(`table request too short: ${data.length} bytes`);
  const service = LE ? data.readInt32LE(0) : data.readInt32BE(0);
  const nparams = Number(LE ? data.readBigUInt64LE(4) : data.readBigUInt64BE(4));
  if (!withKey) return { service, nparams, key: null };
  const rest = data.subarray(12);
  const nul = rest.indexOf(0);
  if (nul < 0) throw new ImsgError("table request key is not NUL-terminated");
  return { service, nparams, key: rest.subarray(0, nul).toString("utf8") };
}

export function encodeTableRequest(req: TableRequest): Buffer {
  const head = Buffer.alloc(12);
  if (LE) {
    head.writeInt32LE(req.service, 0);
    head.writeBigUInt64LE(BigInt(req.nparams), 4);
  } else {
    head.writeInt32BE(req.service, 0);
    head.writeBigUInt64BE(BigInt(req.nparams), 4);
  }
  return req.key === null ? head : Buffer.concat([head, Buffer.from(req.key + "\0", "utf8")]);
}

/** OK reply data: int r (1 found, 0 not found, -1 temporary failure), plus value NUL on a hit. */
export function encodeTableReply(r: 1 | 0 | -1, value?: string): Buffer {
  const b = Buffer.alloc(4);
  if (LE) b.writeInt32LE(r, 0);
  else b.writeInt32BE(r, 0);
  return r === 1 && value !== undefined ? Buffer.concat([b, Buffer.from(value + "\0", "utf8")]) : b;
}

export function decodeTableReply(data: Buffer): { r: number; value: string | null } {
  if (data.length < 4) throw new ImsgError(`table reply too short: ${data.length}`);
  const r = LE ? data.readInt32LE(0) : data.readInt32BE(0);
  const rest = data.subarray(4);
  if (rest.length === 0) return { r, value: null };
  const nul = rest.indexOf(0);
  return { r, value: rest.subarray(0, nul < 0 ? rest.length : nul).toString("utf8") };
}

export function encodeOpen(name: string): Buffer {
  const b = Buffer.alloc(4 + TABLE_NAME_SIZE);
  if (LE) b.writeUInt32LE(PROC_TABLE_API_VERSION, 0);
  else b.writeUInt32BE(PROC_TABLE_API_VERSION, 0);
  b.write(name.slice(0, TABLE_NAME_SIZE - 1), 4, "utf8");
  return b;
}

export function decodeOpen(data: Buffer): { version: number; name: string } {
  if (data.length < 4) throw new ImsgError("open request too short");
  const version = LE ? data.readUInt32LE(0) : data.readUInt32BE(0);
  const nameBuf = data.subarray(4);
  const nul = nameBuf.indexOf(0);
  return { version, name: nameBuf.subarray(0, nul < 0 ? nameBuf.length : nul).toString("utf8") };
}
