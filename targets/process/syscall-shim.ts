// The control file of sys.<role>.<call> faults (targets/shim/control.h), read by the seccomp
// supervisor a real MTA starts under (targets/shim/seccomp-supervisor.c): the roles it tells
// processes apart by, the rules the monkey sets, and what it reports back (processes per role,
// calls and firings per rule, a ring of firings and records). The C structs and these offsets
// change together (VERSION).
import { closeSync, existsSync, openSync, readSync, writeSync, rmSync } from "node:fs";
import { writeFile, chmod } from "node:fs/promises";

/** The launcher that starts an MTA under the seccomp supervisor (built by setup:mtas). */
export const SECCOMP_BIN = process.env.SMTPCHAOS_SECCOMP ?? "/opt/smtpchaos/lib/smtpchaos-seccomp";

const MAGIC = 0x59534353;
const VERSION = 4;
const MAX_ROLES = 32;
const MAX_RULES = 64;
const ROLE_NAME = 32;
const ROLE_PATTERN = 256;
const POINT_NAME = 72;
const EVENTS = 16384;
const OFF_ROLES = 512;
const OFF_RULES = 12288;
const OFF_EVENTS = 24576;
const RULE_SIZE = 192;
const EVENT_SIZE = 48;
const CTL_SIZE = OFF_EVENTS + EVENTS * EVENT_SIZE;
const H_GEN = 8;
const H_SEED = 12;
const H_NRULES = 20;
const H_EVENT_HEAD = 28;
const H_ATTACHED = 32;
const H_ORDINALS = 160;
/** a rule's role index for every role */
const ROLE_ANY = 0xffffffff;
const ACTIONS = ["error", "delay", "record"] as const;

/**
 * The calls the supervisor traps, by the name points use (sys.<role>.<call>), each a set of system
 * calls. write and read are every call that writes to or reads from the MTA's own channels
 * (pipes, FIFOs, unix sockets: write, writev, pwrite*, sendto, sendmsg, sendmmsg; read, readv,
 * pread*, recvfrom, recvmsg, recvmmsg), and sendfile too counts only there; the others count
 * whatever they act on: fsync is fsync, fdatasync and sync_file_range, fdatasync only fdatasync;
 * rename rename/renameat/renameat2; open open/openat/openat2/creat; unlink unlink and unlinkat
 * of a file; mkdir mkdir/mkdirat; ftruncate ftruncate/truncate; accept accept/accept4.
 * The order is the C enum's (targets/shim/control.h).
 */
export const SHIM_CALLS = ["write", "read", "fsync", "rename", "open", "connect", "fdatasync", "unlink", "mkdir", "ftruncate", "accept", "sendfile"] as const;
export type ShimCall = (typeof SHIM_CALLS)[number];


export function seccompInstalled(): boolean {
  return existsSync(SECCOMP_BIN);
}

/**
 * The argv prefix that starts a command under the seccomp supervisor, trapping `calls` (only
 * those: a rule for another call sees nothing). The command runs in place (same PID, the master
 * role); the supervisor runs beside it, in its own session, until no process of the MTA is left.
 */
export function seccompCommand(ctl: string, calls: readonly ShimCall[]): string[] {
  for (const c of calls) if (!SHIM_CALLS.includes(c)) throw new Error(`seccomp supervisor: unknown call "${c}" (${SHIM_CALLS.join(", ")})`);
  return [SECCOMP_BIN, ctl, calls.join(","), "--"];
}

/**
 * A JavaScript regular expression as the POSIX extended one the shim compiles (glibc's regcomp
 * knows \s \S \w \W \b but not \d or groups with `(?`). Throws for what has no equivalent.
 */
export function posixPattern(js: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < js.length; i++) {
    const c = js[i] as string;
    const next = js[i + 1];
    if (c === "\\" && next !== undefined) {
      if (next === "d") out += inClass ? "0-9" : "[0-9]";
      else if (next === "D" && !inClass) out += "[^0-9]";
      else if ("DBpPuxck0123456789".includes(next)) throw new Error(`the syscall shim cannot match \\${next} (POSIX extended regular expressions)`);
      else out += c + next;
      i++;
      continue;
    }
    if (c === "[" && !inClass) inClass = true;
    else if (c === "]" && inClass) inClass = false;
    else if (c === "(" && !inClass && next === "?") {
      if (js[i + 2] !== ":") throw new Error("the syscall shim cannot match lookaround or named groups (POSIX extended regular expressions)");
      out += "(";
      i += 2;
      continue;
    }
    out += c;
  }
  return out;
}

/**
 * A role as the supervisor recognizes it: a POSIX extended regex over the live command line
 * (the process title), or else the executable's path.
 */
export interface ShimRole {
  name: string;
  /** null: only the process the launcher became (the master) */
  pattern: string | null;
}

export type ShimLatency =
  | { dist: "fixed"; ms: number }
  | { dist: "uniform"; min: number; max: number }
  | { dist: "exponential"; mean: number; max: number | null }
  | { dist: "lognormal"; mu: number; sigma: number; max: number | null };

/**
 * What a firing does: fail the call, delay it, or record it (an event with the process's role and
 * the call's site; the call goes on as it is).
 */
export type ShimAction = (typeof ACTIONS)[number];

export interface ShimRule {
  /** the stream's name: sys.<role>.<call> (each process of a role draws from "<point>" or "<point>#k") */
  point: string;
  /** a role's name, or "*": every role (each process by its own role's ordinal) */
  role: string;
  call: ShimCall;
  schedule: { kind: "always" } | { kind: "probability"; p: number } | { kind: "every"; n: number; offset: number } | { kind: "once"; at: number };
  /** one or two, in plan order, weighted */
  actions: ReadonlyArray<{ action: ShimAction; weight: number }>;
  /** any errno (1..4095): the failed call returns -1 with it */
  errno: number;
  latency: ShimLatency | null;
  /** stop after this many firings (all processes together); null: no limit */
  limit: number | null;
  /**
   * only the calls made from this call site (a ShimEvent's stack, from a record rule) are eligible;
   * the others are seen but not counted. null, 0 or absent: any call site
   */
  stack?: number | null;
  /** how many return addresses `stack` hashes (SITE_DEPTHS); 8 by default */
  stackDepth?: SiteDepth;
}

/** The depths a call site is hashed at: an interpreter's stale frames leave only the top stable. */
export const SITE_DEPTHS = [2, 4, 8] as const;
export type SiteDepth = (typeof SITE_DEPTHS)[number];

/** One firing (or record), as the shim logged it. */
export interface ShimEvent {
  /** ms since the epoch */
  at: number;
  /** the same with its microseconds, as a fraction */
  atPrecise: number;
  point: string;
  /** the process's role (also for a rule of every role) */
  role: string;
  /** which process of the role (the order they attached in) */
  ordinal: number;
  /** 1-based index among that process's eligible calls of the rule */
  call: number;
  pid: number;
  action: ShimAction;
  /** the errno, the delay in ms; 0 for a record */
  value: number;
  /**
   * the call site: a hash of the call's PC and the code addresses atop its stack, each as the mapped
   * file and the offset in it (the same across runs of the same binaries); 0: unknown, or not
   * computed (only for calls a record rule or a rule with a stack looks at)
   */
  stack: number;
  /** the same hash over the first 2, 4 and 8 return addresses (SITE_DEPTHS order) */
  stacks: readonly [number, number, number];
}

export interface ShimStats {
  /** processes seen in each role (a process that exec's or takes a role later counts again) */
  attached: Record<string, number>;
  /** of them, those that made an eligible call (the next one decides with stream "<point>#n") */
  active: Record<string, number>;
  /**
   * per rule: seen, the trapped calls of its call by processes of its role, eligible or not (0: the
   * role never made the call, or the launcher does not trap it); eligible, those that counted (for
   * write, read and sendfile only the MTA's own channels); procs, the processes that made at least
   * one eligible call; fired, its firings
   */
  rules: Array<{ point: string; seen: number; eligible: number; procs: number; fired: number }>;
}


export class ShimControl {
  private gen = 0;
  private rules: ShimRule[] = [];
  private eventsRead = 0;
  /** read before the rules they name were replaced */
  private pending: ShimEvent[] = [];
  /** firings the ring overwrote before they were read */
  lostEvents = 0;

  private constructor(
    readonly path: string,
    readonly roles: readonly ShimRole[],
    readonly master: string,
  ) {}

  /**
   * A fresh control file (an old one is unlinked, never truncated: a process still mapping it
   * would fault on the lost pages). World-writable: the MTA's roles drop privileges.
   */
  static async create(path: string, master: string, roles: readonly ShimRole[]): Promise<ShimControl> {
    const all = [{ name: master, pattern: null }, ...roles.filter((r) => r.name !== master)];
    if (all.length > MAX_ROLES) throw new Error(`syscall shim: at most ${MAX_ROLES} roles (${all.length} given)`);
    const buf = Buffer.alloc(CTL_SIZE);
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeUInt32LE(VERSION, 4);
    buf.writeUInt32LE(all.length, 16);
    buf.writeUInt32LE(0, 24);
    all.forEach((r, i) => {
      const at = OFF_ROLES + i * (ROLE_NAME + ROLE_PATTERN);
      putString(buf, at, ROLE_NAME, r.name, `role name "${r.name}"`);
      if (r.pattern !== null) putString(buf, at + ROLE_NAME, ROLE_PATTERN, r.pattern, `role pattern of ${r.name}`);
    });
    rmSync(path, { force: true });
    await writeFile(path, buf, { mode: 0o666 });
    await chmod(path, 0o666);
    return new ShimControl(path, all, master);
  }

  /** the target stopped and its directory went with the file */
  get gone(): boolean {
    return !existsSync(this.path);
  }

  roleNames(): string[] {
    return this.roles.map((r) => r.name);
  }

  /** Replaces the rules (seqlock: readers skip a generation caught mid-write); counters restart. */
  setRules(seed: number, rules: readonly ShimRule[]): void {
    if (rules.length > MAX_RULES) throw new Error(`syscall shim: at most ${MAX_RULES} rules (${rules.length} given)`);
    // an event names its rule by index: read what the old rules fired before they go
    this.pending.push(...this.drainEvents());
    const body = Buffer.alloc(rules.length * RULE_SIZE);
    rules.forEach((r, i) => this.encode(body, i * RULE_SIZE, r));
    const fd = openSync(this.path, "r+");
    try {
      const word = (v: number): Buffer => {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(v >>> 0, 0);
        return b;
      };
      writeSync(fd, word(++this.gen * 2 - 1), 0, 4, H_GEN);
      writeSync(fd, word(seed), 0, 4, H_SEED);
      writeSync(fd, word(rules.length), 0, 4, H_NRULES);
      if (body.length > 0) writeSync(fd, body, 0, body.length, OFF_RULES);
      writeSync(fd, word(this.gen * 2), 0, 4, H_GEN);
    } finally {
      closeSync(fd);
    }
    this.rules = [...rules];
  }

  private encode(b: Buffer, at: number, r: ShimRule): void {
    const role = r.role === "*" ? ROLE_ANY : this.roles.findIndex((x) => x.name === r.role);
    if (role < 0) throw new Error(`syscall shim: no role "${r.role}" (roles: ${this.roleNames().join(", ")})`);
    const s = r.schedule;
    b.writeUInt32LE(role, at);
    if (!SHIM_CALLS.includes(r.call)) throw new Error(`syscall shim: unknown call "${r.call}" (${SHIM_CALLS.join(", ")})`);
    if (!Number.isInteger(r.errno) || r.errno < 1 || r.errno > 4095) throw new Error(`syscall shim: errno ${r.errno} is not an errno (1..4095)`);
    const stack = r.stack ?? 0;
    if (!Number.isInteger(stack) || stack < 0 || stack > 0xffffffff) throw new Error(`syscall shim: stack ${stack} is not a call site (a uint32 from a record)`);
    b.writeUInt32LE(SHIM_CALLS.indexOf(r.call), at + 4);
    b.writeUInt32LE({ always: 0, probability: 1, every: 2, once: 3 }[s.kind], at + 8);
    b.writeUInt32LE(s.kind === "every" ? s.n : 0, at + 12);
    b.writeUInt32LE(s.kind === "every" ? s.offset : s.kind === "once" ? s.at : 0, at + 16);
    b.writeInt32LE(r.errno, at + 20);
    b.writeDoubleLE(s.kind === "probability" ? s.p : 0, at + 24);
    const acts = r.actions.slice(0, 2);
    b.writeUInt32LE(acts.length, at + 32);
    // struct rule: act0 at 36, w0 at 40, act1 at 48, stack at 52, w1 at 56
    acts.forEach((a, i) => {
      if (!ACTIONS.includes(a.action)) throw new Error(`syscall shim: action ${String(a.action)} (${ACTIONS.join(", ")})`);
      b.writeUInt32LE(ACTIONS.indexOf(a.action), at + (i === 0 ? 36 : 48));
      b.writeDoubleLE(a.weight, at + (i === 0 ? 40 : 56));
    });
    b.writeUInt32LE(stack, at + 52);
    const depth = r.stackDepth ?? 8;
    if (!SITE_DEPTHS.includes(depth)) throw new Error(`syscall shim: stack depth ${depth} (${SITE_DEPTHS.join(", ")})`);
    b.writeUInt32LE(depth, at + 188);
    const l = r.latency;
    const [dist, a, bb, max] =
      l === null ? [0, 0, 0, null] : l.dist === "fixed" ? [1, l.ms, 0, null] : l.dist === "uniform" ? [2, l.min, l.max, null] : l.dist === "exponential" ? [3, l.mean, 0, l.max] : [4, l.mu, l.sigma, l.max];
    b.writeUInt32LE(dist, at + 64);
    b.writeUInt32LE(max === null ? 0 : 1, at + 68);
    b.writeDoubleLE(a, at + 72);
    b.writeDoubleLE(bb, at + 80);
    b.writeDoubleLE(max ?? 0, at + 88);
    // limit at 96, then the counters the supervisor keeps: fired 100, eligible 104, seen 108, procs 112
    b.writeUInt32LE(r.limit ?? 0, at + 96);
    putString(b, at + 116, POINT_NAME, r.point, `point "${r.point}"`);
  }

  private read(offset: number, length: number): Buffer {
    const b = Buffer.alloc(length);
    const fd = openSync(this.path, "r");
    try {
      readSync(fd, b, 0, length, offset);
    } finally {
      closeSync(fd);
    }
    return b;
  }

  stats(): ShimStats {
    const head = this.read(0, OFF_ROLES);
    const attached: Record<string, number> = {};
    const active: Record<string, number> = {};
    this.roles.forEach((r, i) => {
      attached[r.name] = head.readUInt32LE(H_ATTACHED + i * 4);
      active[r.name] = head.readUInt32LE(H_ORDINALS + i * 4);
    });
    const rules = this.read(OFF_RULES, this.rules.length * RULE_SIZE);
    return {
      attached,
      active,
      rules: this.rules.map((r, i) => {
        const at = i * RULE_SIZE;
        return { point: r.point, seen: rules.readUInt32LE(at + 108), eligible: rules.readUInt32LE(at + 104), procs: rules.readUInt32LE(at + 112), fired: rules.readUInt32LE(at + 100) };
      }),
    };
  }

  /** Firings (records included) logged since the last call, oldest first (the ring keeps the last 16,384). */
  drainEvents(): ShimEvent[] {
    const head = this.read(H_EVENT_HEAD, 4).readUInt32LE(0);
    let from = this.eventsRead;
    const pending = (head - from) >>> 0;
    const out = this.pending.splice(0);
    if (pending === 0) return out;
    if (pending > EVENTS) {
      this.lostEvents += pending - EVENTS;
      from = (head - EVENTS) >>> 0;
    }
    const ring = this.read(OFF_EVENTS, EVENTS * EVENT_SIZE);
    for (let n = from; n !== head; n = (n + 1) >>> 0) {
      const at = (n % EVENTS) * EVENT_SIZE;
      const rule = this.rules[ring.readUInt32LE(at + 8)];
      out.push({
        // whole ms, as Date.now() stamps the sessions these firings are charged to
        at: Math.floor(Number(ring.readBigUInt64LE(at)) / 1000),
        // sub-millisecond: a sweep places each call in the SMTP phase in flight, and phases can be a few µs apart
        atPrecise: Number(ring.readBigUInt64LE(at)) / 1000,
        point: rule?.point ?? "?",
        role: this.roles[ring.readUInt32LE(at + 32)]?.name ?? "?",
        ordinal: ring.readUInt32LE(at + 12),
        call: ring.readUInt32LE(at + 16),
        pid: ring.readUInt32LE(at + 20),
        action: ACTIONS[ring.readUInt32LE(at + 24)] ?? "error",
        value: ring.readUInt32LE(at + 28),
        stack: ring.readUInt32LE(at + 36),
        stacks: [ring.readUInt32LE(at + 44), ring.readUInt32LE(at + 40), ring.readUInt32LE(at + 36)],
      });
    }
    this.eventsRead = head;
    return out;
  }
}

function putString(b: Buffer, at: number, size: number, s: string, what: string): void {
  const bytes = Buffer.from(s, "utf8");
  if (bytes.length >= size) throw new Error(`syscall shim: ${what} is longer than ${size - 1} bytes`);
  bytes.copy(b, at);
}
