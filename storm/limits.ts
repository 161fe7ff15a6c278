import { readFileSync } from "node:fs";

/** The soft open-files limit of this process (Linux /proc), or null when unknown. */
export function fdLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (m === null || m[1] === "unlimited") return null;
    return Number(m[1]);
  } catch {
    return null;
  }
}
