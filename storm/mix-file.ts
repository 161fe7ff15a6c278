// Reading a mix file (YAML or JSON) for storm, or for the monkey's flood through the CLI layer.
import { readFileSync } from "node:fs";
import YAML from "yaml";
import { UsageError } from "../common/errors.js";
import { MixError, validateMix } from "./plan.js";
import type { Mix } from "./plan.js";

/** A mix file's document: a mapping, or a one-line UsageError naming the file and the problem. */
export function readMixFile(file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    // YAML is a superset of JSON: one parser reads both.
    doc = YAML.parse(readFileSync(file, "utf8"));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "EISDIR" ? "is a directory" : e.code === "ENOENT" ? "no such file" : (e.message.split("\n")[0] ?? e.message).replace(/:\s*$/, "");
    throw new UsageError(`--mix ${file}: ${why}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new UsageError(`--mix ${file}: expected a mapping (weights:, size:, rcpts:, ...), got ${Array.isArray(doc) ? "a list" : `a ${typeof doc}`}`);
  }
  return doc as Record<string, unknown>;
}

/** A mix file checked whole: a MixError (a UsageError when unreadable) names the file and what is wrong. */
export function loadMixFile(file: string): Mix {
  try {
    return validateMix(readMixFile(file));
  } catch (err) {
    if (err instanceof MixError) throw new MixError(`--mix ${file}: ${err.message}`);
    throw err;
  }
}
