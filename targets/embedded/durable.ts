// Names that survive a power cut: a new directory entry is durable only once the directory
// holding it is fsynced (POSIX promises nothing more; ext4 and XFS keep to it).
import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";

export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** mkdir -p, then every directory that now holds a new one is fsynced, innermost first. */
export async function mkdirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  for (let d = dir; ; d = dirname(d)) {
    await syncDir(dirname(d));
    if (d === first || dirname(d) === d) return;
  }
}
