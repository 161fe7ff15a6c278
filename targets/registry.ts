// Targets by name: what `--target NAME` resolves through. Each kind of target is one plug-in
// (its module exports it) plus one line in BUILTIN; an MTA the toolkit does not ship is a target
// file (targets/file/), found by path or by name on the search path.
import { resolve } from "node:path";
import { addPluginInstaller, assertShape, NAMED_FACTORY_FIELDS, PluginError } from "../common/plugins.js";
import { UnknownTargetError } from "./errors.js";
import type { Endpoint, Target } from "./target.js";
import { embeddedPlugin } from "./embedded/target.js";
import { openSmtpdPlugin } from "./opensmtpd/target.js";
import { postfixPlugin } from "./postfix/target.js";
import { isTargetFileRef, targetFilePlugin, targetFileNames } from "./file/load.js";

export interface TargetPlugin {
  readonly name: string;
  /** one line for help texts */
  readonly summary: string;
  create(options: Record<string, unknown>): Target;
  /** what fault injection uses when it is not told where: libfiu roles, lookups routed */
  readonly faultDefaults?: { fiu?: readonly string[]; lookups?: boolean; syscalls?: boolean };
  /** its suite expectations file, when not suites/expectations/NAME.yaml */
  readonly expectations?: string | null;
  /** it delivers to a next hop the toolkit runs (a target file's `delivery: sink`), given as the `sink` option */
  readonly deliversToSink?: boolean;
}

const BUILTIN: readonly TargetPlugin[] = [embeddedPlugin, openSmtpdPlugin, postfixPlugin];

const registered = new Map<string, TargetPlugin>(BUILTIN.map((p) => [p.name, p]));

/** Adds a kind of target (library users, plug-ins, tests). A name already taken is an error. */
export function registerTarget(plugin: TargetPlugin): void {
  if (registered.has(plugin.name)) throw new PluginError(`a target named "${plugin.name}" is already registered`);
  registered.set(plugin.name, plugin);
}

// A plug-in's `targets:` are target plug-ins (code) or paths of target files (relative to the plug-in).
addPluginInstaller({
  key: "targets",
  install(entries, from) {
    for (const entry of entries) {
      if (typeof entry === "string") registerTarget(targetFilePlugin(from.dir === null ? entry : resolve(from.dir, entry)));
      else registerTarget(assertShape(entry, "target", from, NAMED_FACTORY_FIELDS) as unknown as TargetPlugin);
    }
  },
});

/** Built-in and registered targets, then target files found on the search path. */
export function targetNames(): string[] {
  return [...new Set([...registered.keys(), ...targetFileNames()])];
}

/** A registered target, or a target file (a path, or NAME found as NAME.target.yaml on the search path). */
export function targetPlugin(ref: string): TargetPlugin {
  const p = registered.get(ref);
  if (p !== undefined) return p;
  if (isTargetFileRef(ref) || targetFileNames().includes(ref)) return targetFilePlugin(ref);
  throw new UnknownTargetError(`unknown target "${ref}" (known: ${targetNames().join(", ")}; or a path to a NAME.target.yaml file)`);
}

export function createTarget(ref: string, options: Record<string, unknown> = {}): Target {
  return targetPlugin(ref).create(options);
}

/** Why a target (by name or file) cannot start here, or null: an unknown name or a broken target file says so too. Starts nothing. */
export function targetUnavailable(ref: string): string | null {
  try {
    return createTarget(ref).unavailable?.() ?? null;
  } catch (err) {
    return (err as Error).message;
  }
}

export interface StartedTarget {
  target: Target;
  endpoint: Endpoint;
  domain: string;
  mailboxes: readonly string[];
  stop: () => Promise<void>;
}

/** Starts a target; the caller must call stop() (also on failure paths). */
export async function startTarget(target: Target): Promise<StartedTarget> {
  try {
    await target.start();
  } catch (err) {
    await target.stop();
    throw err;
  }
  return { target, endpoint: target.endpoint, domain: target.domain, mailboxes: target.mailboxes, stop: () => target.stop() };
}

/** Starts a named target (or target file); the caller must call stop() (also on failure paths). */
export async function startNamedTarget(ref: string, options: Record<string, unknown> = {}): Promise<StartedTarget> {
  return startTarget(createTarget(ref, options));
}
