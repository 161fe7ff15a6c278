// How libfiu commands reach each MTA. OpenSMTPD: the remote-control pipe of every process of the
// libfiu roles, at once. Postfix: libfiu's remote control does not survive its daemons, so the
// commands go into each service's spec file (read by the wrapper at every spawn) and a reload
// retires the processes started with the old spec.
import { writeFile } from "node:fs/promises";
import type { OpenSmtpdTarget } from "../../targets/opensmtpd/target.js";
import type { PostfixTarget } from "../../targets/postfix/target.js";
import { POSTFIX_FIU_SCOPE, fiuControl, fiuDisableCommands } from "./libfiu.js";
import type { FiuChannel } from "./surface.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class OpenSmtpdFiuChannel implements FiuChannel {
  readonly scope = {};
  private last: string[] = [];

  constructor(private readonly target: OpenSmtpdTarget) {}

  async set(commands: string[]): Promise<void> {
    // Only running processes: a role restarted with the faults on from its first instruction
    // fails its own startup (open() of the certificates...), which says nothing about the queue.
    // After a target restart the surface must be applied again.
    const roles = new Set(this.target.fiuRoles);
    const procs = (await this.target.processes()).filter((p) => roles.has(p.role));
    const undo = fiuDisableCommands(this.last);
    for (const p of procs) {
      for (const c of undo) await fiuControl(this.target.fiuControlPrefix, p.pid, c, { allowRefusal: true });
      for (const c of commands) await fiuControl(this.target.fiuControlPrefix, p.pid, c);
    }
    this.last = [...commands];
  }
}

export class PostfixFiuChannel implements FiuChannel {
  readonly scope = POSTFIX_FIU_SCOPE;
  private last = "";

  constructor(
    private readonly target: PostfixTarget,
    /** how long to wait for the processes started with the old spec to leave */
    private readonly retireTimeoutMs = 3000,
  ) {}

  async set(commands: string[]): Promise<void> {
    const text = commands.join("\n");
    if (text === this.last) return;
    const services = new Set(this.target.fiuServices);
    for (const s of services) await writeFile(this.target.fiuSpecFile(s), text === "" ? "" : text + "\n");
    this.last = text;
    const old = (await this.target.processes()).filter((p) => services.has(p.role)).map((p) => p.pid);
    if (old.length === 0) return;
    await this.target.reloadFiu();
    // Idle processes leave at once; a busy one (a smtpd in a session) only after its client.
    const deadline = Date.now() + this.retireTimeoutMs;
    while (Date.now() < deadline) {
      const live = new Set((await this.target.processes()).map((p) => p.pid));
      if (!old.some((pid) => live.has(pid))) return;
      await sleep(50);
    }
  }
}
