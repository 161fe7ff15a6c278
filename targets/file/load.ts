// Target files by path or by name. A name is looked up as NAME.target.yaml in the directories of
// SMTPCHAOS_TARGET_PATH (colon-separated), then ./targets.d, then the target files shipped
// with the toolkit (targets/files/).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TargetPlugin } from "../registry.js";
import { parseTargetFile, TargetFileError, type TargetFileSpec } from "./spec.js";
import { FileTarget, type FileTargetOptions } from "./target.js";

export const TARGET_FILE_SUFFIX = ".target.yaml";

/** A target file is a page of YAML; anything near this size is not one. */
const MAX_TARGET_FILE_BYTES = 1024 * 1024;

/** The shipped target files; `targets/files` in the package, next to dist/. */
const SHIPPED = fileURLToPath(new URL("../../../targets/files/", import.meta.url));

export function targetSearchPath(): string[] {
  const fromEnv = (process.env.SMTPCHAOS_TARGET_PATH ?? "").split(":").filter((d) => d !== "");
  return [...fromEnv, resolve("targets.d"), SHIPPED];
}

/** A path to a target file rather than a name. */
export function isTargetFileRef(ref: string): boolean {
  return ref.includes("/") || ref.endsWith(TARGET_FILE_SUFFIX);
}

/** Names of the target files on the search path (the first of a name wins). */
export function targetFileNames(): string[] {
  const names = new Set<string>();
  for (const dir of targetSearchPath()) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) if (e.endsWith(TARGET_FILE_SUFFIX)) names.add(e.slice(0, -TARGET_FILE_SUFFIX.length));
  }
  return [...names].sort();
}

function locate(ref: string): string {
  if (isTargetFileRef(ref)) return resolve(ref);
  for (const dir of targetSearchPath()) {
    const p = join(dir, ref + TARGET_FILE_SUFFIX);
    if (existsSync(p)) return p;
  }
  throw new TargetFileError(ref, [`no ${ref}${TARGET_FILE_SUFFIX} on the target path (${targetSearchPath().join(":")})`]);
}

/** Reads and checks a target file; throws TargetFileError with every problem. */
export function loadTargetFile(ref: string): TargetFileSpec {
  const path = locate(ref);
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw Object.assign(new Error("not a regular file"), { code: "not a regular file" });
    if (st.size > MAX_TARGET_FILE_BYTES) throw Object.assign(new Error("too large"), { code: `larger than ${MAX_TARGET_FILE_BYTES} bytes` });
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new TargetFileError(path, [`cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const base = basename(path);
  return parseTargetFile(text, path, base.endsWith(TARGET_FILE_SUFFIX) ? base.slice(0, -TARGET_FILE_SUFFIX.length) : base.replace(/\.ya?ml$/, ""));
}

export function targetFilePlugin(ref: string): TargetPlugin & { spec: TargetFileSpec; expectations: string | null } {
  const spec = loadTargetFile(ref);
  const expectations = spec.expectations === null ? null : resolve(dirname(spec.path), spec.expectations);
  // a file it names that is not there would silently expect nothing of the suites
  if (expectations !== null && !existsSync(expectations)) throw new TargetFileError(spec.path, [`expectations: ${expectations} does not exist`]);
  return {
    name: spec.name,
    summary: spec.summary,
    spec,
    expectations,
    deliversToSink: spec.delivery === "sink",
    create: (o) => new FileTarget(spec, o as FileTargetOptions),
    faultDefaults: { lookups: spec.lookups, fiu: spec.libfiu, syscalls: spec.syscalls },
  };
}
