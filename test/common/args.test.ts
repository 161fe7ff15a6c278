import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_TIMER_MS, parseCli, parseCount, parseDurationFlag, parsePort } from "../../common/args.js";
import { assertWritable, writeReport } from "../../common/output-file.js";
import { UsageError } from "../../common/errors.js";

test("ports: integers 1-65535 only", () => {
  assert.equal(parsePort("25", "--port"), 25);
  assert.equal(parsePort("65535", "--port"), 65535);
  for (const bad of ["0", "65536", "70000", "25x", "", "-1", "2.5", "0x19", "1e3"]) assert.throws(() => parsePort(bad, "--port"), (e: unknown) => e instanceof UsageError && e.message.includes(`"${bad}"`), bad);
});

test("counts and durations: bounded, named in the error", () => {
  assert.equal(parseCount("7", "--n"), 7);
  assert.equal(parseCount("0", "--seed", 0), 0);
  for (const bad of ["-1", "abc", "1.5", "", "1e400"]) assert.throws(() => parseCount(bad, "--n"), UsageError, bad);
  assert.equal(parseDurationFlag("2s", "--d"), 2000);
  assert.throws(() => parseDurationFlag("0", "--duration"), /--duration must be > 0/);
  assert.equal(parseDurationFlag("0", "--d", { allowZero: true }), 0);
  assert.equal(parseDurationFlag(`${MAX_TIMER_MS}`, "--d"), MAX_TIMER_MS);
  assert.throws(() => parseDurationFlag("1000h", "--timeout"), /too long/);
});

test("parseCli reads a negative number as a value and reports parse errors in one line", () => {
  const { values } = parseCli({ args: ["--sessions", "-1", "-j", "-2"], options: { sessions: { type: "string" }, jobs: { type: "string", short: "j" } } });
  assert.equal(values.sessions, "-1");
  assert.equal(values.jobs, "-2");
  assert.throws(() => parseCli({ args: ["--nope"], options: {} }), (e: unknown) => e instanceof UsageError && !e.message.includes("\n"));
});

test("report files: checked up front, a failed write is reported, not thrown", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-out-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assertWritable(join(dir, "r.json"), "--json");
  assert.throws(() => assertWritable(join(dir, "missing", "r.json"), "--json"), /does not exist/);
  assert.throws(() => assertWritable(dir, "--json"), /is a directory/);
  const errors: string[] = [];
  const orig = console.error;
  console.error = (m: string) => void errors.push(m);
  try {
    assert.equal(writeReport(join(dir, "missing", "r.json"), "{}", "tool"), false);
    assert.equal(writeReport(join(dir, "r.json"), "{}", "tool"), true);
  } finally {
    console.error = orig;
  }
  assert.match(errors[0] ?? "", /^tool: cannot write .*ENOENT/);
  assert.equal(readFileSync(join(dir, "r.json"), "utf8"), "{}");
});
