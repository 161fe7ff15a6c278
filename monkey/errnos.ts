// Which errnos a failing call can really return (its man page, plus EIO, which any file system
// may return), and which of them model a transient condition. Any errno the call can return is
// accepted in a plan; "transient" is reported, never a gate: a non-transient errno (EFBIG, EACCES)
// may rightly get a 5xx from a correct MTA, and the oracle then excuses that 5xx.
import { constants as osConstants } from "node:os";

const FILE = ["EIO", "EINTR", "ENOMEM", "EROFS", "EACCES", "EPERM"];
const CHANNEL = ["EIO", "EINTR", "EAGAIN", "EPIPE", "ECONNRESET", "ENOBUFS", "ENOMEM"];
const BY_CALL: Readonly<Record<string, readonly string[]>> = {
  write: [...CHANNEL, "ENOSPC", "EDQUOT", "EFBIG"],
  read: [...CHANNEL],
  fsync: ["EIO", "ENOSPC", "EDQUOT", "EINTR", "EROFS", "EINVAL"],
  fdatasync: ["EIO", "ENOSPC", "EDQUOT", "EINTR", "EROFS", "EINVAL"],
  rename: [...FILE, "ENOSPC", "EDQUOT", "EBUSY", "EEXIST", "ENOENT", "ENOTEMPTY", "EMLINK", "EXDEV", "ENOTDIR", "EISDIR"],
  open: [...FILE, "ENOSPC", "EDQUOT", "EMFILE", "ENFILE", "ENOENT", "EEXIST", "EAGAIN", "EFBIG", "ENOTDIR"],
  unlink: [...FILE, "EBUSY", "ENOENT", "EISDIR"],
  mkdir: [...FILE, "ENOSPC", "EDQUOT", "EEXIST", "EMLINK", "ENOENT"],
  ftruncate: [...FILE, "EFBIG", "EINVAL", "ENOSPC"],
  connect: ["ECONNREFUSED", "ETIMEDOUT", "ENETUNREACH", "EHOSTUNREACH", "EAGAIN", "EINTR", "ECONNRESET", "EADDRNOTAVAIL", "EACCES", "ENOENT"],
  accept: ["EAGAIN", "ECONNABORTED", "EINTR", "EMFILE", "ENFILE", "ENOBUFS", "ENOMEM", "EPROTO", "EPERM"],
  sendfile: [...CHANNEL, "ENOSPC", "EOVERFLOW"],
  // libfiu's point families in a real MTA, and the embedded MTA's
  dir: [...FILE, "ENOSPC", "EDQUOT", "EBUSY", "ENOENT", "EEXIST", "EMFILE", "ENFILE"],
  alloc: ["ENOMEM"],
};

/** Errnos that model a passing condition: the MTA should defer (4xx), not refuse. */
const TRANSIENT = new Set(["EIO", "ENOSPC", "EDQUOT", "EAGAIN", "EINTR", "ENOMEM", "ENOBUFS", "EMFILE", "ENFILE", "EBUSY", "ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "ETIMEDOUT", "ENETUNREACH", "EHOSTUNREACH", "EPIPE"]);

const NUMBERS = osConstants.errno as Readonly<Record<string, number>>;

export function errnoName(errno: number): string {
  for (const [name, n] of Object.entries(NUMBERS)) if (n === errno) return name;
  return String(errno);
}

/** An errno by name (any case) or number; null when the system knows no such errno. */
export function errnoNumber(v: unknown): number | null {
  if (typeof v === "string") return NUMBERS[v.toUpperCase()] ?? null;
  if (Number.isInteger(v) && (v as number) > 0 && Object.values(NUMBERS).includes(v as number)) return v as number;
  return null;
}

/** The errnos `call` can return, by name; null for a call not listed (any errno is taken). */
export function errnosOf(call: string): readonly string[] | null {
  return BY_CALL[call] ?? null;
}

export function isTransient(errno: number): boolean {
  return TRANSIENT.has(errnoName(errno));
}
