// How libfiu commands reach a target's processes, by the delivery the target describes
// (targets/fault-hooks.ts LibfiuControl). "fifo": the remote-control pipe of every running
// process of the roles, at once (OpenSMTPD). "spec-file": libfiu's remote control does not
// survive the daemons (Postfix), so the commands go into each service's spec file, read at every
// spawn, and a reload retires the processes started with the old spec.
import { writeFile } from "node:fs/promises";
import type { LibfiuControl, LoggedFault } from "../../targets/fault-hooks.js";
import type { Target } from "../../targets/target.js";
import { FIU_POINTS, fiuControl, fiuDisableCommands } from "./libfiu.js";
import type { FiuChannel } from "./surface.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type PointMap = Readonly<Record<string, readonly string[]>>;

/**
 * The channel for a target's libfiu, with its scope and its own point mapping over the defaults
 * (an empty list: the MTA does not offer that point).
 */
export function fiuChannel(target: Target, control: LibfiuControl, scope: Readonly<Record<string, string>>, overrides: PointMap = {}, logged: readonly LoggedFault[] = []): FiuChannel {
  const points = Object.fromEntries(Object.entries({ ...FIU_POINTS, ...overrides }).filter(([, names]) => names.length > 0));
  return control.kind === "fifo" ? new FifoChannel(target, control, scope, points, logged) : new SpecFileChannel(target, control, scope, points, logged);
}

class FifoChannel implements FiuChannel {
  private last: string[] = [];

  constructor(
    private readonly target: Target,
    private readonly control: Extract<LibfiuControl, { kind: "fifo" }>,
    readonly scope: Readonly<Record<string, string>>,
    readonly points: PointMap,
    readonly logged: readonly LoggedFault[],
  ) {}

  async set(commands: string[]): Promise<void> {
    // Only running processes: a role restarted with the faults on from its first instruction
    // fails its own startup (open() of the certificates...), which says nothing about the queue.
    // After a target restart the surface must be applied again.
    const roles = new Set(this.control.roles);
    const procs = (await this.target.processes()).filter((p) => roles.has(p.role));
    const undo = fiuDisableCommands(this.last);
    const prefix = this.control.prefix();
    for (const p of procs) {
      for (const c of undo) await fiuControl(prefix, p.pid, c, { allowRefusal: true });
      for (const c of commands) await fiuControl(prefix, p.pid, c);
    }
    this.last = [...commands];
  }
}

class SpecFileChannel implements FiuChannel {
  private last = "";

  constructor(
    private readonly target: Target,
    private readonly control: Extract<LibfiuControl, { kind: "spec-file" }>,
    readonly scope: Readonly<Record<string, string>>,
    readonly points: PointMap,
    readonly logged: readonly LoggedFault[],
    /** how long to wait for the processes started with the old spec to leave */
    private readonly retireTimeoutMs = 3000,
  ) {}

  async set(commands: string[]): Promise<void> {
    const text = commands.join("\n");
    if (text === this.last) return;
    const services = new Set(this.control.roles);
    for (const s of services) await writeFile(this.control.specFile(s), text === "" ? "" : text + "\n");
    this.last = text;
    const old = (await this.target.processes()).filter((p) => services.has(p.role)).map((p) => p.pid);
    if (old.length === 0) return;
    await this.control.reload();
    // Idle processes leave at once; a busy one (a smtpd in a session) only after its client.
    const deadline = Date.now() + this.retireTimeoutMs;
    while (Date.now() < deadline) {
      const live = new Set((await this.target.processes()).map((p) => p.pid));
      if (!old.some((pid) => live.has(pid))) return;
      await sleep(50);
    }
  }
}
