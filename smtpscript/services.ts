// `connect "host" port "smtp"`: the original resolved service names with getservbyname(3); Node
// has no binding for it, so read the same file, with the mail services built in for hosts without it.
import { readFileSync } from "node:fs";

const BUILT_IN: Readonly<Record<string, number>> = { smtp: 25, lmtp: 24, submission: 587, submissions: 465, smtps: 465 };

let table: Map<string, number> | null = null;

function load(): Map<string, number> {
  const map = new Map(Object.entries(BUILT_IN));
  let text = "";
  try {
    text = readFileSync("/etc/services", "utf8");
  } catch {
    return map;
  }
  for (const line of text.split("\n")) {
    const [entry = ""] = line.split("#");
    const m = /^(\S+)\s+(\d+)\/tcp\b(.*)$/.exec(entry.trim());
    if (m === null) continue;
    const port = Number(m[2]);
    for (const name of [m[1] as string, ...(m[3] ?? "").trim().split(/\s+/).filter(Boolean)]) if (!map.has(name)) map.set(name, port);
  }
  return map;
}

/** The TCP port of a service name, or null when this host does not know it. */
export function servicePort(name: string): number | null {
  table ??= load();
  return table.get(name) ?? null;
}
