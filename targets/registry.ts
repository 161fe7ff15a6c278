// Targets by name: what `--target NAME` resolves through.
import type { Endpoint, Target } from "./target.js";
import type { ScriptFaults } from "../smtpscript/runner.js";
import { EmbeddedTarget } from "./embedded/target.js";
import { OpenSmtpdTarget } from "./opensmtpd/target.js";
import { PostfixTarget } from "./postfix/target.js";
import { withFaultWiring } from "../monkey/real/index.js";

export type TargetFactory = (options: Record<string, unknown>) => Target;

const FACTORIES: Record<string, TargetFactory> = {
  embedded: (o) => new EmbeddedTarget(o),
  // faults: true wires libfiu into one role and the lookups into this process (`monkey` statements
  // and fault surfaces need it); smtpscript runs ask for it.
  opensmtpd: (o) => new OpenSmtpdTarget(withFaultWiring("opensmtpd", o)),
  postfix: (o) => new PostfixTarget(withFaultWiring("postfix", o)),
};

export function targetNames(): string[] {
  return Object.keys(FACTORIES);
}

export function createTarget(name: string, options: Record<string, unknown> = {}): Target {
  const factory = FACTORIES[name];
  if (factory === undefined) throw new Error(`unknown target "${name}" (known: ${targetNames().join(", ")})`);
  return factory(options);
}

export interface StartedTarget {
  target: Target & { faults?: ScriptFaults };
  endpoint: Endpoint;
  domain: string;
  mailboxes: readonly string[];
  stop: () => Promise<void>;
}

/** Starts a named target; the caller must call stop() (also on failure paths). */
export async function startNamedTarget(name: string, options: Record<string, unknown> = {}): Promise<StartedTarget> {
  const target = createTarget(name, options);
  try {
    await target.start();
  } catch (err) {
    await target.stop();
    throw err;
  }
  return { target, endpoint: target.endpoint, domain: target.domain, mailboxes: target.mailboxes, stop: () => target.stop() };
}

/** Runs fn against a freshly started target and always stops it. */
export async function withTarget<T>(name: string, fn: (t: StartedTarget) => Promise<T>, options: Record<string, unknown> = {}): Promise<T> {
  const started = await startNamedTarget(name, options);
  try {
    return await fn(started);
  } finally {
    await started.stop();
  }
}
