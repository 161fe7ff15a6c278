import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../cli/spawn.js";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { EmbeddedTarget } from "../../targets/embedded/target.js";
import { freePort } from "../../targets/process/free-port.js";
import { loadProgram } from "../../smtpscript/parse.js";
import { runProgram } from "../../smtpscript/runner.js";
import type { RunOptions } from "../../smtpscript/runner.js";
import { renderJunit } from "../../smtpscript/reporters/junit.js";
import { startRawServer } from "../smtp/raw-server.js";

const CLI = join(process.cwd(), "dist/bin/smtpscript.js");
const SEED = join(process.cwd(), "smtpscript/examples/seed.smtp");
let target: EmbeddedTarget;
const dir = mkdtempSync(join(tmpdir(), "smtpscript-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

before(async () => {
  target = new EmbeddedTarget({ auth: { user: "alice", password: "s3cret" } });
  await target.start();
});
after(async () => {
  await target.stop();
});

function script(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const cli = (args: string[]) => runCli(CLI, args);

function run(file: string, extra: Partial<RunOptions> = {}) {
  return runProgram(loadProgram(file), { server: { host: "127.0.0.1", port: target.endpoint.port }, timeoutMs: 5000, ...extra });
}


test("the seed example prints exactly the original's output", async () => {
  const r = await cli(["--port", String(target.endpoint.port), "--seed", "3", SEED]);
  // the original's lines exactly on stdout; the run's seed on stderr
  assert.equal(r.stdout, '====> running test-case "mailfrom.empty" ok\n====> running test-case "mailfrom.broken" ok\n====> all run\npassed: 2/2 (skipped: 0, failed: 0, error: 0)\n');
  assert.match(r.stderr, /^seed: 3$/m);
  assert.equal(r.code, 0);
});

test("the seed example also runs unchanged over STARTTLS", async () => {
  const r = await cli(["--port", String(target.endpoint.port), "--starttls", SEED]);
  assert.match(r.stdout, /passed: 2\/2/);
  assert.equal(r.code, 0);
});

test("an unmet expectation fails with file:line, the source line and the transcript tail; exit 1", async () => {
  const f = script("fail.smtp", 'test-case name "wrong" {\n\texpect smtp ok\n\twriteln "HELO x"\n\texpect smtp permfail\n}\n');
  const r = await cli(["--port", String(target.endpoint.port), f]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /====> running test-case "wrong" failed/);
  assert.match(r.stdout, new RegExp(`${f.replace(/[/.]/g, "\\$&")}:4:2: expected permfail \\(5xx\\), got 250 `));
  assert.match(r.stdout, /4 \| expect smtp permfail/);
  assert.match(r.stdout, />>> HELO x/);
  assert.match(r.stdout, /passed: 0\/1 \(skipped: 0, failed: 1, error: 0\)/);
});

test("an unreachable server is a usage-level error naming host:port (exit 2)", async () => {
  const port = await freePort();
  const r = await cli(["--port", String(port), SEED]);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /mailfrom\.empty" error/);
  assert.match(r.stderr, new RegExp(`server unreachable: cannot connect to 127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
});

test("a silent server is an error of type timeout at the waiting statement", async (t) => {
  const srv = await startRawServer(() => {});
  t.after(() => srv.close());
  const f = script("silent.smtp", 'test-case name "silent" {\n  expect smtp ok\n}\n');
  const res = await runProgram(loadProgram(f), { server: { host: srv.host, port: srv.port }, timeoutMs: 200 });
  const r = res.results[0];
  assert.equal(r?.status, "error");
  assert.equal(r?.failure?.type, "timeout");
  assert.equal(r?.failure?.loc?.line, 2);
  assert.match(r?.failure?.message ?? "", /timed out after 200 ms waiting for smtp reply ok/);
});

test("a parse error exits 2 with a located message", async () => {
  const f = script("bad.smtp", 'test-case {\n  expect smtpp ok\n}\n');
  const r = await cli(["--port", "1", f]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.smtp:2:10: error: expected "capability", .*smtp but found "s"\n/);
  assert.ok(r.stderr.includes(' 2 |   expect smtpp ok\n   |          ^'), r.stderr);
});

test("STARTTLS, capabilities and AUTH PLAIN/LOGIN", async () => {
  const f = script(
    "auth.smtp",
    `proc tls-ehlo {
  expect smtp ok
  writeln "EHLO client.example"
  expect smtp helo
  expect capability STARTTLS
  expect capability SIZE > 1000
  upgrade-tls
  writeln "EHLO client.example"
  expect smtp helo
  expect capability AUTH
}
test-case name "plain" { call tls-ehlo
  auth plain "alice" "s3cret"
  expect smtp 235
}
test-case name "login" { call tls-ehlo
  auth login "alice" "s3cret"
  expect smtp ok
}
test-case name "bad-password" { call tls-ehlo
  auth plain "alice" "wrong"
  expect smtp permfail 5.7.8
}
`,
  );
  const res = await run(f);
  assert.deepEqual(
    res.results.map((r) => [r.name, r.status, r.failure?.message]),
    [
      ["plain", "passed", undefined],
      ["login", "passed", undefined],
      ["bad-password", "passed", undefined],
    ],
  );
});

test("write sends raw bytes with no CRLF added (bare LF stays bare)", async (t) => {
  const got: Buffer[] = [];
  const srv = await startRawServer((peer) => {
    peer.send("220 raw\r\n");
    peer.socket.on("data", (d: Buffer) => got.push(d));
  });
  t.after(() => srv.close());
  const f = script("raw.smtp", 'test-case {\n  expect smtp ok\n  write "a\\nb\\r.\\x00"\n  sleep 100ms\n}\n');
  const res = await runProgram(loadProgram(f), { server: { host: srv.host, port: srv.port }, timeoutMs: 2000 });
  assert.equal(res.results[0]?.status, "passed");
  assert.deepEqual(Buffer.concat(got), Buffer.from("a\nb\r.\x00", "latin1"));
});

test("send-message is delivered; several connections run in one test-case", async () => {
  const f = script(
    "two.smtp",
    `test-case name "two-sessions" {
  expect smtp ok
  writeln "EHLO a.example"
  expect smtp helo
  connect as second
  on second {
    expect smtp ok
    writeln "HELO b.example"
    expect smtp ok
    send-message size 2k
    expect smtp ok match "queued as"
  }
  send-message from "x@a.example" to "\${rcpt}" body "hello\\n.dot\\n"
  expect smtp 250
  disconnect second
  writeln "QUIT"
  expect smtp 221
  expect disconnect
}
`,
  );
  const res = await run(f, { defines: { rcpt: "user@test.example" } });
  const r = res.results[0];
  assert.equal(r?.status, "passed", r?.failure?.message);
  assert.equal(r?.acceptedMessages.length, 2);
  assert.deepEqual(r?.transcripts.map((t) => t.connection), ["default", "second"]);
  // delivery is asynchronous: wait for both ids to land in the Maildir
  const deadline = Date.now() + 5000;
  let ids: Array<string | null> = [];
  while (Date.now() < deadline) {
    ids = (await target.delivered()).map((d) => d.id);
    if (r?.acceptedMessages.every((id) => ids.includes(id))) break;
    await new Promise((res2) => setTimeout(res2, 50));
  }
  for (const id of r?.acceptedMessages ?? []) assert.ok(ids.includes(id), `message ${id} not delivered`);
});

test("a refused recipient is what the next expect sees after send-message", async () => {
  const f = script("rcpt.smtp", 'test-case {\n  expect smtp ok\n  writeln "HELO a"\n  expect smtp ok\n  send-message to "nobody@test.example"\n  expect smtp 550 5.1.1\n}\n');
  const res = await run(f);
  assert.equal(res.results[0]?.status, "passed", res.results[0]?.failure?.message);
  assert.deepEqual(res.results[0]?.acceptedMessages, []);
});

test("skip and requires capability skip; results keep script order with --jobs", async () => {
  const f = script(
    "jobs.smtp",
    `test-case name "a" { expect smtp ok
  sleep 150ms }
test-case name "b" { expect smtp ok }
test-case name "c" skip "not today" { expect smtp ok }
test-case name "d" requires capability NO-SUCH-THING { expect smtp ok }
test-case name "e" requires capability PIPELINING { expect smtp ok }
`,
  );
  const order: string[] = [];
  const res = await run(f, { jobs: 4, onResult: (r) => order.push(r.name) });
  assert.deepEqual(order, ["a", "b", "c", "d", "e"]);
  assert.deepEqual(
    res.results.map((r) => [r.name, r.status, r.skipReason]),
    [
      ["a", "passed", null],
      ["b", "passed", null],
      ["c", "skipped", "not today"],
      ["d", "skipped", "server lacks NO-SUCH-THING"],
      ["e", "passed", null],
    ],
  );
});

test("expect disconnect fails when the server keeps the connection open", async () => {
  const f = script("open.smtp", 'test-case {\n  timeout 300ms\n  expect smtp ok\n  expect disconnect\n}\n');
  const res = await run(f);
  assert.equal(res.results[0]?.status, "failed");
  assert.match(res.results[0]?.failure?.message ?? "", /expected disconnect, connection still open after 300 ms/);
});

test("the JUnit report is valid XML with the JUnit structure, failures located, transcripts in system-out", async () => {
  const f = script(
    "junit.smtp",
    'test-case name "ok <&>" { expect smtp ok }\ntest-case name "bad" {\n  expect smtp ok\n  write "\\x01\\x02 control bytes\\r\\n"\n  expect smtp permfail\n  writeln "NOOP"\n  expect smtp permfail\n}\ntest-case name "skipped" skip { }\n',
  );
  const res = await run(f);
  const xml = renderJunit(res);
  assert.equal(XMLValidator.validate(xml), true);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml) as {
    testsuites: { tests: string; failures: string; skipped: string; testsuite: { testcase: Array<Record<string, unknown>>; tests: string } };
  };
  assert.equal(doc.testsuites.tests, "3");
  assert.equal(doc.testsuites.failures, "1");
  assert.equal(doc.testsuites.skipped, "1");
  const cases = doc.testsuites.testsuite.testcase;
  assert.equal(cases.length, 3);
  assert.equal(cases[0]?.name, "ok <&>");
  const bad = cases[1] as { failure: { message: string; type: string }; line: string; "system-out": string; file: string };
  assert.equal(bad.failure.type, "expectation");
  assert.equal(bad.line, "7");
  assert.equal(bad.file, f);
  assert.match(bad["system-out"], /<<< 220 /);
  assert.match(bad["system-out"], /\\x01\\x02 control bytes/);
  assert.ok("skipped" in (cases[2] as object));
});

test("tap and json reporters via the CLI", async () => {
  const tap = await cli(["--port", String(target.endpoint.port), "--reporter", "tap", "--seed", "3", SEED]);
  assert.equal(tap.stdout, "TAP version 13\n1..2\n# seed: 3\nok 1 - mailfrom.empty\nok 2 - mailfrom.broken\n");
  const out = join(dir, "r.json");
  const json = await cli(["--port", String(target.endpoint.port), "--reporter", "console", "--reporter", `json=${out}`, SEED]);
  assert.match(json.stdout, /passed: 2\/2/);
  const { readFileSync } = await import("node:fs");
  const parsed = JSON.parse(readFileSync(out, "utf8")) as { results: Array<{ name: string; status: string }> };
  assert.deepEqual(parsed.results.map((r) => r.status), ["passed", "passed"]);
});

test("--target embedded starts and stops its own server", async () => {
  const r = await cli(["--target", "embedded", SEED]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /passed: 2\/2/);
});
