// Report files (--json, --html, --reporter junit=FILE): checked before a run starts, so a typo
// in the directory costs nothing, and written after it without losing the printed report.
import { accessSync, constants, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { UsageError } from "./errors.js";

/** Throws a UsageError unless `file` can be created or overwritten. */
export function assertWritable(file: string, flag: string): void {
  const path = resolve(file);
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new UsageError(`${flag} ${file}: ${(err as Error).message}`);
  }
  if (st?.isDirectory() === true) throw new UsageError(`${flag} ${file}: is a directory`);
  const target = st !== undefined ? path : dirname(path);
  if (st === undefined) {
    let dir;
    try {
      dir = statSync(target);
    } catch {
      throw new UsageError(`${flag} ${file}: directory ${dirname(file)} does not exist`);
    }
    if (!dir.isDirectory()) throw new UsageError(`${flag} ${file}: ${dirname(file)} is not a directory`);
  }
  try {
    accessSync(target, constants.W_OK);
  } catch {
    throw new UsageError(`${flag} ${file}: ${st !== undefined ? "file" : `directory ${dirname(file)}`} is not writable`);
  }
}

/** Writes a report file; on failure says so on stderr (prefixed by `who`) and returns false. */
export function writeReport(file: string, text: string, who: string): boolean {
  try {
    writeFileSync(file, text);
    return true;
  } catch (err) {
    console.error(`${who}: cannot write ${file}: ${(err as Error).message}`);
    return false;
  }
}
