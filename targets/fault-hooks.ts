// What a target lets fault injection reach, as data and hooks: the monkey reads this and builds
// the wiring (targets/ knows MTAs and never the monkey). A target started without the hooks runs
// exactly as configured, with nothing of the monkey in its path.
import type { ShimControl } from "./process/syscall-shim.js";

/** The tables a target consults for its mail domains and recipients. */
export interface LookupTables {
  domains: readonly string[];
  /** recipient -> the value the MTA expects back (a Maildir path, a user name) */
  recipients: Readonly<Record<string, string>>;
}

/**
 * Where a target sends its lookups when the monkey decides them: a socketmap server (Postfix
 * speaks it natively). Given as an option; the target starts it during its own start.
 */
export interface LookupRouter {
  /** serves the tables (once; the address stays across restarts) and says where */
  serve(tables: LookupTables): Promise<{ host: string; port: number }>;
  /**
   * writes an executable OpenSMTPD can run as a table backend (`table NAME monkey:CFG` execs
   * table-monkey CFG) that forwards its lookups to the router
   */
  writeTableProc(path: string): Promise<void>;
  stop(): Promise<void>;
}

/** How libfiu commands reach the processes a target runs under libfiu. */
export type LibfiuControl =
  /** live: each running process of `roles` has a control FIFO pair at `${prefix}-${pid}.in/.out` */
  | { kind: "fifo"; roles: readonly string[]; prefix: () => string }
  /**
   * at spawn: each service reads its spec file when a process starts (no live control), and
   * reload() retires the processes started with the old spec
   */
  | { kind: "spec-file"; roles: readonly string[]; specFile: (role: string) => string; reload: () => Promise<void> };

export interface FaultDescription {
  /** roles the monkey may pause (SIGSTOP) or kill (pause.<role>, kill.<role>) */
  roles: readonly string[];
  /** the role stopped to delay queue.* calls (a stalled disk); null when no role owns the queue alone */
  stallRole: string | null;
  /**
   * libfiu in the target's processes (started with `fiu`), else null. stackScope: point ->
   * function that must be on the stack (libfiu's enable_stack_by_name); points: the libfiu
   * failure points that stand for a fault point in this MTA, where the defaults would hit
   * something else (its SMTP socket writes, say)
   */
  libfiu: (LibfiuControl & { stackScope: Readonly<Record<string, string>>; points?: Readonly<Record<string, readonly string[]>>; logged?: readonly LoggedFault[] }) | null;
  /** the lookups go to the router the target was started with (its lookup.* points exist) */
  lookupsRouted: boolean;
  /**
   * The syscall shim in every process of the target (started with `syscalls`), else null: the
   * roles it tells apart, and its control file once the target has started (sys.<role>.<call>).
   */
  syscalls: { roles: readonly string[]; control: () => ShimControl | null } | null;
}

/**
 * How the MTA words a failed call in its log: a line matching `pattern` (and naming the errno)
 * is one firing of `point`. Tried before the generic wording (open, fsync, write, rename...).
 */
export interface LoggedFault {
  pattern: RegExp;
  point: string;
}

/** Options every real target takes for fault injection. */
export interface FaultHookOptions {
  /** roles (or Postfix services) to start under libfiu */
  fiu?: readonly string[];
  /** seeds libfiu's random decisions (FIU_PRNG_SEED) where each role is one process (OpenSMTPD), so a run replays them */
  fiuSeed?: number;
  /** decides the target's domain and recipient lookups */
  lookups?: LookupRouter;
  /**
   * the system calls (by point name: write, fsync, rename...) trapped in every thread of every
   * process of the target, for sys.<role>.<call> points; absent or empty: nothing is attached
   */
  syscalls?: readonly string[];
}

export interface DescribesFaults {
  describeFaults(): FaultDescription;
}

export function describesFaults(t: object): t is DescribesFaults {
  return typeof (t as Partial<DescribesFaults>).describeFaults === "function";
}
