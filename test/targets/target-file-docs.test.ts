// docs/target-files.md is the reference of the format: its field table and its placeholder table
// must name exactly what the parser knows, so they cannot drift apart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PLACEHOLDERS, SECTIONS, TARGET_FILE_FIELDS } from "../../targets/file/spec.js";

const DOC = readFileSync(fileURLToPath(new URL("../../../docs/target-files.md", import.meta.url)), "utf8");

/** The first column's `code` of each row of the table under `heading`. */
function tableKeys(heading: string): string[] {
  const start = DOC.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `no "## ${heading}" section`);
  const end = DOC.indexOf("\n## ", start + 1);
  const body = DOC.slice(start, end === -1 ? undefined : end);
  return [...body.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] as string);
}

test("docs/target-files.md documents every field the parser knows, and no other", () => {
  const documented = tableKeys("Fields");
  assert.deepEqual([...documented].sort(), [...TARGET_FILE_FIELDS].sort());
  assert.equal(new Set(documented).size, documented.length, "a field documented twice");
});

test("docs/target-files.md documents every placeholder and section, and no other", () => {
  const documented = tableKeys("Placeholders").map((p) => p.replace(/^\{\{|\}\}$/g, ""));
  assert.deepEqual(documented.filter((p) => p !== "ports.NAME").sort(), [...PLACEHOLDERS].sort());
  assert.ok(documented.includes("ports.NAME"));
  const sections = /Sections keep text only[\s\S]*?`\{\{\^NAME\}\}\.\.\.\{\{\/NAME\}\}`: ([^.]+)\./.exec(DOC)?.[1] ?? "";
  assert.deepEqual([...sections.matchAll(/`([^`]+)`/g)].map((m) => m[1]).sort(), [...SECTIONS].sort());
});
