// removeTree: an instance directory goes whole (a Maildir of many files, nested directories, a
// file that is not writable) without fs.rm holding its entries in memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeTree } from "../../targets/process/remove-tree.js";

test("removeTree removes a whole instance directory, and a missing one is no error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-rmtree-"));
  for (const sub of ["Maildir/new", "Maildir/cur", "Maildir/tmp", "spool/a/b"]) mkdirSync(join(dir, sub), { recursive: true });
  for (let i = 0; i < 2000; i++) writeFileSync(join(dir, "Maildir/new", `${i}.host`), "x");
  writeFileSync(join(dir, "spool/a/b/ro"), "x");
  chmodSync(join(dir, "spool/a/b/ro"), 0o400);
  await removeTree(dir);
  assert.equal(existsSync(dir), false);
  await removeTree(dir);
});
