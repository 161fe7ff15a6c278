// The smtpscript `monkey` statement, parsed once for every target:
//   monkey fail POINT [once | always | times N]
//   monkey delay POINT DURATION [once | always | times N]
//   monkey clear [POINT]
import { parseDuration } from "../common/duration.js";

export class StatementError extends Error {}

/** How many times the statement's fault fires: null = every time. */
export type Times = number | null;

export type MonkeyStatement =
  | { verb: "clear"; point: string | null }
  | { verb: "fail"; point: string; times: Times }
  | { verb: "delay"; point: string; delayMs: number; times: Times };

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
  const mode = rest.join(" ") || "once";
  let times: Times;
  if (mode === "once") times = 1;
  else if (mode === "always") times = null;
  else {
    const m = /^times (\d+)$/.exec(mode);
    if (m === null || Number(m[1]) < 1) throw new StatementError(`monkey ${verb}: expected once, always or "times N", got "${mode}"`);
    times = Number(m[1]);
  }
  return verb === "delay" ? { verb, point, delayMs, times } : { verb, point, times };
}
