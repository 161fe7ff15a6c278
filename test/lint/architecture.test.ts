// ARCHITECTURE.md, the README's Layout and the tree stay in step: every top-level folder is in
// both lists (and nothing else is), every path the page names exists, and every registration
// line it names is where it says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const read = (f: string): string => readFileSync(join(ROOT, f), "utf8");

/** The top-level folders git tracks (dot folders aside). */
function trackedFolders(): string[] {
  const files = execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" }).split("\n");
  return [...new Set(files.filter((f) => f.includes("/") && !f.startsWith(".")).map((f) => f.slice(0, f.indexOf("/"))))].sort();
}

/** The folder names that start the lines of the first code block after `heading`. */
function listedFolders(markdown: string, heading: string): string[] {
  const at = markdown.indexOf(heading);
  assert.ok(at >= 0, `no "${heading}"`);
  const block = /```\n([\s\S]*?)```/.exec(markdown.slice(at));
  assert.ok(block !== null, `no code block after "${heading}"`);
  return [...(block[1] as string).matchAll(/^([a-z][a-z-]*)\/ /gm)].map((m) => m[1] as string).sort();
}

test("the README's Layout and ARCHITECTURE.md list exactly the folders of the tree", () => {
  const tree = trackedFolders();
  assert.ok(tree.includes("targets") && tree.includes("test"), tree.join(" "));
  assert.deepEqual(listedFolders(read("README.md"), "## Layout"), tree, "README.md Layout");
  assert.deepEqual(listedFolders(read("ARCHITECTURE.md"), "## Layers"), tree, "ARCHITECTURE.md Layers");
  assert.match(read("README.md"), /\[ARCHITECTURE\.md\]\(ARCHITECTURE\.md\)/);
});

test("every path ARCHITECTURE.md names exists, and each registration line is in its file", () => {
  const page = read("ARCHITECTURE.md");
  const paths = [...page.matchAll(/`((?:[a-z-]+\/)+(?:[A-Za-z0-9_.-]+\.(?:ts|md|js|yaml))?)`/g)].map((m) => m[1] as string).filter((p) => !p.includes("NAME"));
  assert.ok(paths.length > 20, `${paths.length} paths`);
  for (const p of paths) assert.ok(existsSync(join(ROOT, p)), `ARCHITECTURE.md names ${p}, which does not exist`);
  // "| ... | `LIST` in `FILE` |": the registration list is in that file
  for (const m of page.matchAll(/`([A-Z_]+|export)` in `([a-z/.-]+\.ts)`/g)) {
    const [, what, file] = m as unknown as [string, string, string];
    assert.ok(read(file).includes(what === "export" ? "export " : what), `${file} has no ${what}`);
  }
});
