// A reconcile after hours of mail reads every delivered message's id: the ids must not keep the
// message heads they were read from alive (a substring holds its parent string in V8).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { maildirIds } from "../../targets/process/maildir-ids.js";
import { readMessageId } from "../../smtp/index.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

test("maildir ids: every id read, and holding 3,000 of them does not hold their 16 KB heads", async (t) => {
  const box = mkdtempSync(join(tmpdir(), "smtpchaos-ids-"));
  t.after(() => rmSync(box, { recursive: true, force: true }));
  mkdirSync(join(box, "new"));
  mkdirSync(join(box, "cur"));
  const filler = "X-Filler: " + "y".repeat(200) + "\r\n";
  const n = 3000;
  for (let i = 0; i < n; i++) {
    const head = `From: a@b.example\r\nX-Smtpchaos-Id: l9x2k7q4m1-${i.toString(36)}\r\n${filler.repeat(80)}\r\nbody\r\n`;
    writeFileSync(join(box, i % 2 === 0 ? "new" : "cur", `${i}.msg`), head);
  }
  gc();
  const before = process.memoryUsage().heapUsed;
  const ids = await maildirIds([box]);
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  assert.equal(ids.length, n);
  assert.deepEqual(new Set(ids).size, n);
  assert.ok(ids.includes("l9x2k7q4m1-0") && ids.includes(`l9x2k7q4m1-${(n - 1).toString(36)}`));
  // the heads are 16 KB each (48 MB in all); the ids a few bytes each
  assert.ok(grown < 8 * 1024 * 1024, `holding ${n} ids grew the heap by ${(grown / 1048576).toFixed(1)} MiB`);
  assert.equal(readMessageId(Buffer.from("Subject: x\r\nX-Smtpchaos-Id:\tabc-1  \r\n\r\nX-Smtpchaos-Id: no\r\n")), "abc-1");
  assert.equal(readMessageId("X-Smtpchaos-Id: s-2\r\n\r\n"), "s-2");
  assert.equal(readMessageId(Buffer.from("Subject: none\r\n\r\n")), null);
});
