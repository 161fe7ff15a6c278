/** The local user that receives the real MTAs' test mail (created by npm run setup:mtas). */
export const MAIL_USER = "smtpchaos";

import { TargetUnavailableError } from "../errors.js";
import { readFileSync } from "node:fs";

/** uid and gid of a local user, from /etc/passwd (no shell-out). */
export function userInfo(name: string): { uid: number; gid: number; home: string } {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? "/" };
  }
  throw new TargetUnavailableError(`user "${name}" does not exist: run 'npm run setup:mtas' as root`);
}
