// Plug-ins: a user's own targets, fault layers, storm kinds and outputs, from their own package.
// A plug-in is a module whose default export is plain data (`{ name, targets: [...], stormKinds:
// [...] }`): the toolkit registers each section into its own registries, so a plug-in never needs
// the same copy of smtpchaos as the CLI running it. Each registry contributes one installer for
// its section (one key); a process loads only the sections it has installers for, which lets a
// storm worker thread or a target host process load the same module for what it needs.
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { UsageError } from "./errors.js";

/** The environment variable naming plug-ins (comma-separated paths or package names); the CLIs
 * set it to the resolved files, so child processes and worker threads load the same ones. */
export const PLUGINS_ENV = "SMTPCHAOS_PLUGINS";

export class PluginError extends UsageError {}

export interface PluginInstaller {
  /** the plug-in's key this installer reads, e.g. "stormKinds" */
  readonly key: string;
  /** registers every entry of the section; throws a PluginError naming what is wrong */
  install(entries: readonly unknown[], from: PluginSource): void;
}

export interface PluginSource {
  /** `plug-in "NAME"`, for messages */
  label: string;
  /** the plug-in module's directory (paths in it are relative to it), null for one given as data */
  dir: string | null;
}

/** What output kinds, reporters and target plug-ins all are (a named factory), as installers check them. */
export const NAMED_FACTORY_FIELDS = { name: "string", summary: "string", create: "function" } as const;

/** Checks an entry has the named function and string members: a plug-in's mistake named, not a TypeError later. */
export function assertShape(entry: unknown, what: string, from: PluginSource, fields: Record<string, "string" | "function" | "object">): Record<string, unknown> {
  if (typeof entry !== "object" || entry === null) throw new PluginError(`${from.label}: a ${what} must be an object, got ${typeof entry}`);
  const e = entry as Record<string, unknown>;
  for (const [field, type] of Object.entries(fields)) {
    if (typeof e[field] !== type || e[field] === null) throw new PluginError(`${from.label}: ${what} ${typeof e.name === "string" ? `"${e.name}" ` : ""}needs ${field} (a ${type})`);
  }
  return e;
}

const installers = new Map<string, PluginInstaller>();
const loaded = new Map<string, string>();

/** A registry's installer for its section of a plug-in (called once, when the registry module loads). */
export function addPluginInstaller(installer: PluginInstaller): void {
  if (installers.has(installer.key)) throw new Error(`a plug-in section "${installer.key}" already has an installer`);
  installers.set(installer.key, installer);
}

/**
 * Registers a plug-in given as data. With `strict`, a section no installer of this process reads
 * is an error (the CLI knows every section); a worker thread or host process passes false.
 */
export function registerPlugin(plugin: unknown, source = "plug-in", strict = true, dir: string | null = null): string {
  if (typeof plugin !== "object" || plugin === null || Array.isArray(plugin)) throw new PluginError(`${source}: a plug-in's default export is an object ({ name, targets, faultLayers, stormKinds, ... })`);
  const p = plugin as Record<string, unknown>;
  const name = typeof p.name === "string" && p.name !== "" ? p.name : null;
  if (name === null) throw new PluginError(`${source}: a plug-in needs a name (a non-empty string)`);
  for (const [key, value] of Object.entries(p)) {
    if (key === "name") continue;
    const installer = installers.get(key);
    if (installer === undefined) {
      if (strict) throw new PluginError(`plug-in "${name}" (${source}): unknown section "${key}" (known: ${[...installers.keys()].join(", ")})`);
      continue;
    }
    if (!Array.isArray(value)) throw new PluginError(`plug-in "${name}" (${source}): ${key} must be a list`);
    installer.install(value, { label: `plug-in "${name}"`, dir });
  }
  return name;
}

/** Where a plug-in named on the command line is: a path (relative to `cwd`) or a package name resolved from `cwd`. */
export function resolvePlugin(spec: string, cwd = process.cwd()): string {
  const trimmed = spec.trim();
  if (trimmed === "") throw new PluginError("--plugin: empty name");
  if (isAbsolute(trimmed) || trimmed.startsWith(".")) {
    const file = resolve(cwd, trimmed);
    if (!existsSync(file)) throw new PluginError(`--plugin ${trimmed}: no such file (${file})`);
    return statSync(file).isDirectory() ? packageEntry(file, trimmed) : file;
  }
  try {
    return createRequire(resolve(cwd, "noop.js")).resolve(trimmed);
  } catch {
    throw new PluginError(`--plugin ${trimmed}: no such file, and no package of that name installed from ${cwd}`);
  }
}

/** A plug-in package's directory: the module its package.json exports (or main), else index.js. */
function packageEntry(dir: string, spec: string): string {
  let pkg: { exports?: unknown; main?: unknown } = {};
  try {
    pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as typeof pkg;
  } catch {
    // no package.json: a plain directory with an index.js
  }
  const root = typeof pkg.exports === "object" && pkg.exports !== null && "." in pkg.exports ? (pkg.exports as Record<string, unknown>)["."] : pkg.exports;
  const conditional = typeof root === "object" && root !== null ? ((root as Record<string, unknown>).import ?? (root as Record<string, unknown>).default) : root;
  const entry = typeof conditional === "string" ? conditional : typeof pkg.main === "string" ? pkg.main : "index.js";
  const file = resolve(dir, entry);
  if (!existsSync(file)) throw new PluginError(`--plugin ${spec}: its entry ${file} does not exist`);
  return file;
}

/** Imports and registers a plug-in module (once per file); returns its name. The environment then
 * names every loaded file, so child processes and worker threads started later load them too. */
export async function loadPlugin(file: string, strict = true): Promise<string> {
  const known = loaded.get(file);
  if (known !== undefined) return known;
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new PluginError(`--plugin ${file}: cannot load: ${(err as Error).message.split("\n")[0] ?? ""}`, { cause: err });
  }
  if (mod.default === undefined) throw new PluginError(`--plugin ${file}: the module has no default export (export default { name, ... })`);
  const name = registerPlugin(mod.default, file, strict, dirname(file));
  loaded.set(file, name);
  process.env[PLUGINS_ENV] = [...loaded.keys()].join(",");
  return name;
}

/** The plug-ins the environment names. */
export function pluginsInEnv(): string[] {
  return (process.env[PLUGINS_ENV] ?? "").split(",").filter((s) => s.trim() !== "");
}

/** Loads the plug-ins named in the environment (a child process's or worker's start); lenient about sections it has no registry for. */
export async function loadPluginsFromEnv(): Promise<string[]> {
  const names: string[] = [];
  for (const spec of pluginsInEnv()) names.push(await loadPlugin(resolvePlugin(spec), false));
  return names;
}
