// The package as a user gets it: this checkout packed by `npm pack` (from the dist/ that
// `npm test` has just built: --ignore-scripts skips prepack's clean rebuild) and installed into
// an empty project of its own. Dependencies come from npm's cache, or the registry when missing.
import type { TestContext } from "node:test";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** One entry of `npm pack --json`'s file list; mode is the file's permission bits. */
export interface PackedFile {
  path: string;
  mode: number;
}

export interface ScratchProject {
  dir: string;
  tarball: string;
  files: PackedFile[];
}

/**
 * Packs the checkout into a fresh directory and installs the tarball there, in a project with
 * `manifest` as its package.json; the directory is removed when the test ends.
 */
export async function installPacked(t: TestContext, manifest: Record<string, unknown>): Promise<ScratchProject> {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-pkg-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  const [packed] = JSON.parse(stdout) as { filename: string; files: PackedFile[] }[];
  if (packed === undefined) throw new Error(`npm pack printed no package: ${stdout.slice(0, 500)}`);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true, ...manifest }));
  await run("npm", ["install", `./${packed.filename}`, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: dir });
  return { dir, tarball: packed.filename, files: packed.files };
}
