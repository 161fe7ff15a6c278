// `smtpchaos target check FILE [--start]`: validation without starting anything; with --start a
// table of what the file's roles, logs, delivery, listeners and fault mechanisms reach, for the
// toy relay, a file whose role pattern matches nothing, and every shipped target file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli as spawnCli, SMTPCHAOS } from "../cli/spawn.js";

const runCli = (args: string[]) => spawnCli(SMTPCHAOS, args);
const RELAY_DIR = fileURLToPath(new URL("../../../test/targets/fixtures/relay/", import.meta.url));
const SHIPPED = fileURLToPath(new URL("../../../targets/files/", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "smtpchaos-check-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test("target check without --start validates and summarizes; an invalid file is exit 2 with every problem", async () => {
  const ok = await runCli(["target", "check", join(RELAY_DIR, "toy-relay.target.yaml")]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /valid target file "toy-relay"/);
  assert.match(ok.stdout, /delivery: +at the toolkit's sink/);
  const bad = join(tmp, "bad.target.yaml");
  writeFileSync(bad, "start: [x]\nmaildirs: [M]\nroles: { q: '(' }\nbogus: 1\n");
  const r = await runCli(["target", "check", bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bogus: unknown field/);
  assert.match(r.stderr, /roles\.q: not a regular expression/);
});

test("target check --start: the toy relay's table passes; a role pattern that matches nothing and a missing log are said", async () => {
  const r = await runCli(["target", "check", join(RELAY_DIR, "toy-relay.target.yaml"), "--start"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const row of [/banner +│ 220 /, /listener 127\.0\.0\.1/, /sink +│ 127\.0\.0\.1:\d+/, /test message +│ to user@test\.example: accepted, delivered at the sink/, /role daemon +│ pid \d+/, /log log\/relay\.log/, /queue size +│ 0 queued/]) assert.match(r.stdout, row);
  assert.match(r.stdout, /every check passed/);

  const text = `summary: toy relay with a wrong role and a log it never writes
requires: [python3]
mailboxes: [user]
directories: [queue, log]
start: [python3, ${JSON.stringify(join(RELAY_DIR, "toy-relay.py"))}, --port, "{{port}}", "--host6={{host6}}", --next-port, "{{sink.port}}", --dir, "{{dir}}", --log, "{{dir}}/log/relay.log"]
roles: { worker: 'toy-worker' }
logs: [log/relay.log, log/never.log]
delivery: sink
`;
  const file = join(tmp, "wrong.target.yaml");
  writeFileSync(file, text);
  const w = await runCli(["target", "check", file, "--start"]);
  assert.equal(w.code, 1, w.stdout + w.stderr);
  assert.match(w.stdout, /role worker +│ matched no process while the test message went through \(\/toy-worker\/\)/);
  assert.match(w.stdout, /log log\/never\.log +│ \S+never\.log does not exist +│ FAIL/);
  assert.match(w.stdout, /1 check\(s\) failed: log log\/never\.log; 1 warning\(s\): role worker/);
});

test("target check --start on every shipped target file prints its table and passes", async () => {
  const files = readdirSync(SHIPPED).filter((f) => f.endsWith(".target.yaml"));
  assert.ok(files.length > 0);
  for (const f of files) {
    const r = await runCli(["target", "check", join(SHIPPED, f), "--start"]);
    assert.equal(r.code, 0, `${f}:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /test message +│ to \S+: accepted, delivered/, f);
    assert.match(r.stdout, /every check passed/, f);
  }
});
