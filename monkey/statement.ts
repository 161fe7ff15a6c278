// The smtpscript `monkey` statement, parsed once for every target:
//   monkey fail POINT [errno E] [site HASH] [once | always | times N]
//   monkey delay POINT DURATION [site HASH] [once | always | times N]
//   monkey clear [POINT]
// (errno: the errno a failing call returns; site: one call site, as `monkey sweep` prints it)
import { UserError } from "../common/errors.js";
import { parseDuration } from "../common/duration.js";

export class StatementError extends UserError {}

/** How many times the statement's fault fires: null = every time. */
export type Times = number | null;

/** errno and site, when a statement names them */
export interface StatementOptions {
  errno?: string;
  site?: string;
}

export type MonkeyStatement =
  | { verb: "clear"; point: string | null }
  | ({ verb: "fail"; point: string; times: Times } & StatementOptions)
  | ({ verb: "delay"; point: string; delayMs: number; times: Times } & StatementOptions);

export function parseStatement(args: readonly string[]): MonkeyStatement {
  const [verb, point, ...rest] = args;
  if (verb === "clear") return { verb, point: point ?? null };
  if (verb !== "fail" && verb !== "delay") throw new StatementError(`monkey: unknown action "${verb ?? ""}" (fail, delay, clear)`);
  if (point === undefined) throw new StatementError(`monkey ${verb}: which fault point?`);
  let delayMs = 0;
  if (verb === "delay") {
    const d = parseDuration(rest.shift() ?? "");
    if (d === null) throw new StatementError("monkey delay: expected a duration such as 500ms after the point");
    delayMs = d;
  }
  const opts: StatementOptions = {};
  while (rest[0] === "errno" || rest[0] === "site") {
    const key = rest.shift() as "errno" | "site";
    const value = rest.shift();
    if (value === undefined) throw new StatementError(`monkey ${verb}: ${key} needs a value (errno EIO, site 3f09a2c1)`);
    if (key === "errno" && verb === "delay") throw new StatementError("monkey delay: a delay fails nothing, so it takes no errno");
    opts[key] = value;
  }
  const mode = rest.join(" ") || "once";
  let times: Times;
  if (mode === "once") times = 1;
  else if (mode === "always") times = null;
  else {
    const m = /^times (\d+)$/.exec(mode);
    if (m === null || Number(m[1]) < 1) throw new StatementError(`monkey ${verb}: expected once, always or "times N", got "${mode}"`);
    times = Number(m[1]);
  }
  return verb === "delay" ? { verb, point, delayMs, times, ...opts } : { verb, point, times, ...opts };
}
