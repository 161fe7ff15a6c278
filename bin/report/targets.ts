// Which columns the matrix has: the targets named with --targets (an unknown name is a usage
// error; one that cannot start here is a column saying why), or by default embedded plus every
// other known target that is installed on this machine.
import { UsageError } from "../../common/errors.js";
import { targetNames, targetPlugin, targetUnavailable } from "../../targets/registry.js";

export interface ColumnChoice {
  name: string;
  ref: string;
  /** why it cannot start here (not installed, needs root), or null */
  unavailable: string | null;
}

/** The targets of a --targets list, checked before anything runs. */
export function namedColumns(list: string): ColumnChoice[] {
  const refs = list.split(",").map((t) => t.trim()).filter((t) => t !== "");
  if (refs.length === 0) throw new UsageError(`--targets needs at least one target (${targetNames().join(", ")} or a target file)`);
  const out: ColumnChoice[] = [];
  for (const ref of refs) {
    let name: string;
    try {
      name = targetPlugin(ref).name;
    } catch (err) {
      // an unknown name, or a target file with problems: the message names them
      throw new UsageError(`--targets: ${(err as Error).message.split("\n")[0] ?? ""}`);
    }
    if (out.some((c) => c.name === name)) throw new UsageError(`--targets: ${name} is named twice`);
    out.push({ name, ref, unavailable: targetUnavailable(ref) });
  }
  return out;
}

/** embedded, then every other known target (built-in MTAs, target files on the target path) that can start here. */
export function defaultColumns(): ColumnChoice[] {
  const others = targetNames().filter((n) => n !== "embedded" && targetUnavailable(n) === null);
  return ["embedded", ...others].map((name) => ({ name, ref: name, unavailable: null }));
}
