// libfiu inside a real MTA: which libfiu failure points stand for which smtpchaos fault points,
// how a plan's schedule becomes a libfiu command, and the named-pipe remote control
// (fiu_run_preload's FIU_CTRL_FIFO: "<prefix>-<pid>.in" carries one command per line,
// "<prefix>-<pid>.out" answers "0" or "-1"). libfiu decides inside the MTA, so only schedules
// libfiu itself has are accepted: probability (enable_random), always (enable), once at the
// first call (onetime). Everything else is refused with the point and the reason.
import { closeSync, constants as fsConstants, existsSync, openSync, readSync, writeSync } from "node:fs";
import { PlanError, type FaultSpec } from "../plan.js";

/**
 * smtpchaos point -> libfiu failure points. posix/io/net/* is left out on purpose: it breaks the
 * MTAs' own IPC (imsg, Postfix's local sockets) and says nothing about storage.
 */
export const FIU_POINTS: Readonly<Record<string, readonly string[]>> = {
  "queue.open": ["posix/io/oc/open"],
  // Not writev: OpenSMTPD's imsg IPC writes with it. Stdio too: OpenSMTPD's queue writes envelopes
  // through a FILE. (Its pony process writes message bodies with the fortified __fprintf_chk and
  // flushes them in fclose, neither of which libfiu wraps.)
  "queue.write": ["posix/io/rw/write", "posix/io/rw/pwrite", "posix/stdio/rw/fwrite", "posix/stdio/gp/fputc", "posix/stdio/fflush"],
  "queue.read": ["posix/io/rw/read", "posix/io/rw/pread", "posix/stdio/rw/fread", "posix/stdio/gp/getline", "posix/stdio/gp/getdelim", "posix/stdio/gp/fgets"],
  "queue.fsync": ["posix/io/sync/*", "linux/io/sync_file_range"],
  "queue.dir": ["posix/io/dir/*"],
  "queue.rename": ["posix/io/dir/rename"],
  "queue.unlink": ["posix/io/dir/unlink"],
  "queue.truncate": ["posix/io/rw/truncate", "posix/io/rw/ftruncate"],
  "queue.stdio": ["posix/stdio/*"],
  alloc: ["libc/mm/*"],
};

export function fiuPointNames(): string[] {
  return Object.keys(FIU_POINTS);
}

/** A plan setting libfiu cannot carry out: a PlanError, so CLIs and the control API report it
 * as a bad plan. */
export class FiuError extends PlanError {
  constructor(
    readonly detail: string,
    readonly point: string,
  ) {
    super([{ path: `points["${point}"]`, message: detail }], "libfiu");
    this.name = "FiuError";
  }
}

/** libfiu's remote control in a process did not answer or refused a command. */
export class FiuControlError extends Error {
  constructor(
    message: string,
    readonly pid: number,
  ) {
    super(message);
    this.name = "FiuControlError";
  }
}

/** EIO unless the plan pinned another errno: an unpinned libfiu failure picks a random errno, and
 * some (EFBIG...) make an MTA answer a legitimate 5xx. */
const DEFAULT_ERRNO = 5;

/**
 * Failing a call only when a given function is on the stack (libfiu's enable_stack_by_name):
 * smtpchaos point -> function name. The target says which scope it needs (describeFaults).
 */
export type FiuStackScope = Readonly<Record<string, string>>;

/** The libfiu commands that make the MTA follow `spec` (one per libfiu point). Throws FiuError for
 * settings libfiu has no equivalent of. */
export function fiuCommands(spec: FaultSpec, scope: FiuStackScope = {}, points: Readonly<Record<string, readonly string[]>> = FIU_POINTS): string[] {
  const names = points[spec.name];
  if (names === undefined) throw new FiuError(`${spec.name}: not a libfiu point (${fiuPointNames().join(", ")})`, spec.name);
  const scoped = scope[spec.name] !== undefined;
  const why = (what: string): never => {
    throw new FiuError(`${spec.name}: ${what} cannot be done by libfiu, which decides inside the MTA (use ${scoped ? "always or once" : "probability, always, or once"})`, spec.name);
  };
  if (spec.actions.some((a) => a.action !== "error")) why(`action ${spec.actions.map((a) => a.action).join("/")}`);
  if (spec.latency !== null) why("latency");
  if (spec.phase !== null) why(`an SMTP phase condition (${spec.phase.op} ${spec.phase.phase})`);
  if (spec.window !== null) why("a per-point time window");
  const errno = spec.errno ?? DEFAULT_ERRNO;
  let verb: string;
  let extra = "";
  const s = spec.schedule;
  switch (s.kind) {
    case "probability":
      verb = "enable_random";
      extra = `,probability=${s.p}`;
      if (spec.limit === 1) extra += ",onetime";
      else if (spec.limit !== null) why(`limit ${spec.limit}`);
      break;
    case "always":
      verb = "enable";
      if (spec.limit === 1) extra = ",onetime";
      else if (spec.limit !== null) why(`limit ${spec.limit}`);
      break;
    case "once":
      if (s.at !== 1) why(`once at call ${s.at}`);
      verb = "enable";
      extra = ",onetime";
      break;
    case "every":
      return why(`every ${s.n}`);
  }
  const fn = scope[spec.name];
  if (fn !== undefined && s.kind === "probability") why(`probability together with the call-stack scope this MTA needs (${fn})`);
  if (fn !== undefined) {
    verb = "enable_stack_by_name";
    extra += `,func_name=${fn},pos_in_stack=-1`;
  }
  return names.map((n) => `${verb} name=${n},failnum=1,failinfo=${errno}${extra}`);
}

/** `disable` commands undoing enable commands. */
export function fiuDisableCommands(commands: readonly string[]): string[] {
  const names = new Set<string>();
  for (const c of commands) {
    const m = /\bname=([^,\s]+)/.exec(c);
    if (m !== null) names.add(m[1] as string);
  }
  return [...names].map((n) => `disable name=${n}`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tryOpen(path: string, flags: number): number | null {
  try {
    return openSync(path, flags);
  } catch (err) {
    // ENXIO: nobody has the .in end open for reading yet (the control thread is between two
    // commands); retried by the caller.
    if ((err as NodeJS.ErrnoException).code === "ENXIO") return null;
    throw err;
  }
}

/**
 * Sends one command to the libfiu control thread of one process. Non-blocking opens only: a
 * process whose control thread is gone makes this fail after timeoutMs instead of hanging.
 */
export async function fiuControl(prefix: string, pid: number, command: string, opts: { timeoutMs?: number; allowRefusal?: boolean } = {}): Promise<boolean> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const base = `${prefix}-${pid}`;
  if (!existsSync(`${base}.in`)) throw new FiuControlError(`libfiu control pipe ${base}.in does not exist (is the process running under libfiu?)`, pid);
  const deadline = Date.now() + timeoutMs;
  let wfd: number | null = null;
  let rfd: number;
  for (;;) {
    while ((wfd = tryOpen(`${base}.in`, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK)) === null) {
      if (Date.now() > deadline) throw new FiuControlError(`libfiu control thread of pid ${pid} is not listening on ${base}.in`, pid);
      await sleep(10);
    }
    rfd = openSync(`${base}.out`, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    try {
      writeSync(wfd, command + "\n");
      break;
    } catch (err) {
      closeSync(wfd);
      closeSync(rfd);
      // EPIPE: the control thread closed the pipe between our open and our write (it reopens
      // it after every command): the command was not read, so it is sent again
      if ((err as NodeJS.ErrnoException).code !== "EPIPE" || Date.now() > deadline) throw err;
      await sleep(10);
    }
  }
  try {
    const buf = Buffer.alloc(64);
    let reply = "";
    while (!reply.includes("\n")) {
      let n = 0;
      try {
        n = readSync(rfd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      }
      if (n > 0) reply += buf.subarray(0, n).toString("latin1");
      else {
        if (Date.now() > deadline) throw new FiuControlError(`no reply from libfiu in pid ${pid} to "${command}"`, pid);
        await sleep(5);
      }
    }
    if (reply.trim() === "0") return true;
    // e.g. disabling a onetime point that already fired (libfiu removed it)
    if (opts.allowRefusal === true) return false;
    throw new FiuControlError(`libfiu in pid ${pid} refused "${command}" (reply ${reply.trim()})`, pid);
  } finally {
    closeSync(wfd);
    closeSync(rfd);
  }
}
