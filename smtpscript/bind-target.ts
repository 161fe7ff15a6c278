// Turns --target NAME or --host/--port into what the runner needs: an address, a label,
// target-provided variables, the target handle for `expect delivered`/`monkey`, and a stop().
import net from "node:net";
import { startNamedTarget } from "../targets/registry.js";
import { TargetStartError } from "../targets/errors.js";
import type { Target } from "../targets/target.js";
import { ExternalTarget } from "../targets/external/target.js";
import type { ServerAddress, ScriptFaults, ScriptTarget } from "./runner.js";
import { scriptProviders } from "./providers.js";

export interface Binding {
  server: ServerAddress;
  label: string;
  /** -D values with the target's domain and mailbox filled in where not given */
  defines: Record<string, string>;
  target?: ScriptTarget;
  stop: () => Promise<void>;
}

/** A target the toolkit starts (it has its own address; `tls` means its TLS port), or a server the user runs. */
export type ServerSpec = { target: string; tls?: boolean; starttls?: boolean } | ServerAddress;

export async function bindServer(spec: { server: ServerSpec; defines: Record<string, string> }, targetOptions: Record<string, unknown> = {}): Promise<Binding> {
  if (!("target" in spec.server)) {
    const server = spec.server;
    const label = server.host.includes(":") ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
    return { server, label, defines: { ...spec.defines }, stop: async () => {} };
  }
  const { target: ref, ...how } = spec.server;
  let t;
  let faults: ScriptFaults | null = null;
  try {
    // With the monkey composed in (bin/), real MTAs come with their fault wiring, so `monkey`
    // statements and `requires fault` work.
    const start = scriptProviders().startTarget;
    if (start !== undefined) ({ started: t, faults } = await start(ref, targetOptions));
    else {
      // mayFire tells the fault wiring what to attach; without the monkey there is none
      const { mayFire: _unused, ...plain } = targetOptions;
      t = await startNamedTarget(ref, plain);
    }
  } catch (err) {
    throw new TargetStartError(`cannot start target "${ref}": ${(err as Error).message}`, { cause: err });
  }
  let stopped: Promise<void> | null = null;
  return {
    // --tls/--starttls still apply to a managed target (implicit TLS uses its TLS port).
    server: {
      ...how,
      host: t.endpoint.host,
      port: how.tls === true ? (t.endpoint.tlsPort ?? t.endpoint.port) : t.endpoint.port,
    },
    label: `${ref} (${t.endpoint.host}:${t.endpoint.port})`,
    defines: targetDefines(spec.defines, t),
    target: managedScriptTarget(t.target, faults),
    stop: () => (stopped ??= t.stop()),
  };
}

/** -D values with the target's domain and first mailbox filled in where not given. */
export function targetDefines(defines: Readonly<Record<string, string>>, t: { domain: string; mailboxes: readonly string[] }): Record<string, string> {
  return { domain: t.domain, ...(t.mailboxes[0] !== undefined ? { rcpt: t.mailboxes[0] } : {}), ...defines };
}

/** How `expect delivered` waits for a target whose queue cannot be counted: until its mailboxes stay unchanged for settleMs, at most maxMs. */
export interface MailboxSettle {
  settleMs: number;
  maxMs: number;
}

/**
 * What `expect delivered` and `monkey` statements reach of a target. With `settle`, a target
 * whose queue cannot be counted (queueSize() is always 0) is read only once its mailboxes have
 * settled: its queue cannot say when its deliveries are over, the mailboxes going still can.
 */
export function scriptTargetOf(target: Target, faults: ScriptFaults | null, settle?: MailboxSettle): ScriptTarget {
  const wait = settle !== undefined && target.queueObservable === false ? target.settleMailboxes?.bind(target) : undefined;
  return {
    delivered: async () => {
      if (wait !== undefined && settle !== undefined) await wait(settle.settleMs, settle.maxMs);
      return target.delivered();
    },
    flushQueue: () => target.flushQueue(),
    queueSize: () => target.queueSize(),
    ...(faults !== null ? { faults } : {}),
  };
}

/** Mailboxes unchanged this long mean deliveries are over (`suite run --settle`'s default too). */
export const DEFAULT_SETTLE_MS = 5_000;

/**
 * A target the toolkit started, for `expect delivered`: one whose queue cannot be counted (a
 * target file without a queue-size command, Haraka) is read once its mailboxes settle, as a
 * server given by --host is. Read at once, it would miss a delivery still on its way, and an
 * `expect delivered 0` would pass on a message about to arrive.
 */
export function managedScriptTarget(target: Target, faults: ScriptFaults | null): ScriptTarget {
  return scriptTargetOf(target, faults, { settleMs: DEFAULT_SETTLE_MS, maxMs: 30_000 });
}

/**
 * `expect delivered` against a server given by --host: what arrives in `maildirs` (--maildir,
 * the --sink's), read once they settle; the server's queue is out of sight.
 */
export function hostScriptTarget(server: ServerAddress, maildirs: readonly string[], settle: MailboxSettle): ScriptTarget {
  return scriptTargetOf(new ExternalTarget({ host: server.host, port: server.port }, [], maildirs), null, settle);
}

/**
 * Whether a server given by --host/--port accepts TCP connections at all, so a run of many
 * test-cases against a closed port ends with one line instead of one connect error per case.
 * Returns the reason when it does not (the connection is closed at once when it does).
 */
export function unreachableReason(server: { host: string; port: number }, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: server.host, port: server.port });
    const done = (reason: string | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done(`no answer to connect within ${timeoutMs} ms`), timeoutMs);
    socket.once("connect", () => done(null));
    socket.once("error", (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}
