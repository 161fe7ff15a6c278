// Every problem of a document a user wrote (a fault plan, a storm mix, a target file), collected
// with its path so the user fixes the file in one pass, and shown one way by every tool.
import { parseDuration } from "./duration.js";
import { visible } from "./visible.js";

export interface Issue {
  /** where in the document: `points["queue.write"].probability`, `weights.basic`, `start[0]` */
  path: string;
  message: string;
}

export class Issues {
  readonly list: Issue[] = [];

  add(path: string, message: string): void {
    this.list.push({ path, message });
  }

  /** A duration field ("500ms", "5s", a number of ms); null (and an issue) when it is not one. */
  duration(path: string, v: unknown): number | null {
    const d = typeof v === "string" || typeof v === "number" ? parseDuration(v) : null;
    if (d === null) this.add(path, `must be a duration (e.g. 500ms, 5s, 2m), got ${JSON.stringify(v)}`);
    return d;
  }
}

/** `SOURCE: PATH: MESSAGE` for one problem; `SOURCE: N problems:` then one `  - PATH: MESSAGE` a line. */
export function formatIssues(source: string, issues: readonly Issue[]): string {
  const line = (i: Issue): string => (i.path === "" ? visible(i.message) : `${visible(i.path)}: ${visible(i.message)}`);
  if (issues.length === 1) return `${visible(source)}: ${line(issues[0] as Issue)}`;
  return `${visible(source)}: ${issues.length} problems:\n${issues.map((i) => `  - ${line(i)}`).join("\n")}`;
}
