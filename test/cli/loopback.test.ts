// Item 5: one loopback policy for every tool. Every refusal happens before any traffic: the
// addresses are TEST-NET (192.0.2.0/24, never routed) and a name that would need DNS.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isLoopback, loopbackUrl, RemoteTargetError } from "../../common/loopback.js";
import { UsageError } from "../../common/errors.js";
import { runProgram } from "../../smtpscript/runner.js";
import { loadProgram } from "../../smtpscript/parse.js";
import { runCli, SMTPCHAOS, SMTPSCRIPT, errorLines, hasStack } from "./spawn.js";

const dir = mkdtempSync(join(tmpdir(), "smtpchaos-loopback-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const script = join(dir, "one.smtp");
writeFileSync(script, 'test-case name "one" {\n  expect smtp ok\n}\n');

test("loopback: literal loopback in any spelling and localhost; names are never loopback", () => {
  for (const h of ["127.0.0.1", "127.9.8.7", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "[::1]", "localhost", "LOCALHOST"]) assert.ok(isLoopback(h), h);
  for (const h of ["10.1.2.3", "192.0.2.1", "0.0.0.0", "::", "2001:db8::1", "::ffff:10.0.0.1", "127.0.0.1.nip.io", "localhost.example.com", "mail.example.com", "127.1"]) assert.ok(!isLoopback(h), h);
});

test("loopback: URLs are parsed and their host checked the same way", () => {
  assert.equal(loopbackUrl("http://127.0.0.1:25080/", "--api", false).port, "25080");
  assert.equal(loopbackUrl("http://[::1]:1/", "--api", false).hostname, "[::1]");
  assert.throws(() => loopbackUrl("http://192.0.2.1:1/", "--api", false), (e: unknown) => e instanceof RemoteTargetError && /192\.0\.2\.1/.test(e.message));
  assert.throws(() => loopbackUrl("notaurl", "--monkey", false), (e: unknown) => e instanceof UsageError && /--monkey: not a URL/.test(e.message));
  assert.throws(() => loopbackUrl("ftp://127.0.0.1/", "--monkey", false), UsageError);
  assert.equal(loopbackUrl("http://192.0.2.1:1/", "--api", true).hostname, "192.0.2.1");
});

const REFUSALS: Array<{ what: string; script: string; args: string[]; host: string }> = [
  { what: "smtpscript --host", script: SMTPSCRIPT, args: ["--host", "192.0.2.1", script], host: "192.0.2.1" },
  { what: "smtpscript --host NAME (no DNS)", script: SMTPSCRIPT, args: ["--host", "mail.example.com", script], host: "mail.example.com" },
  { what: "smtpscript --monkey URL", script: SMTPSCRIPT, args: ["--monkey", "http://192.0.2.1:25080/", script], host: "192.0.2.1" },
  { what: "suite run --host", script: SMTPCHAOS, args: ["suite", "run", "--host", "192.0.2.1", "--port", "25"], host: "192.0.2.1" },
  { what: "storm --host", script: SMTPCHAOS, args: ["storm", "--host", "192.0.2.1", "--port", "25", "--duration", "1s"], host: "192.0.2.1" },
  { what: "storm --host6", script: SMTPCHAOS, args: ["storm", "--port", "25", "--host6", "2001:db8::1", "--duration", "1s"], host: "2001:db8::1" },
  { what: "monkey run --host", script: SMTPCHAOS, args: ["monkey", "run", "--host", "192.0.2.1", "--port", "25", "--rcpt", "u@test.example", "--duration", "1s"], host: "192.0.2.1" },
  { what: "monkey points --api", script: SMTPCHAOS, args: ["monkey", "points", "--api", "http://192.0.2.1:25080/"], host: "192.0.2.1" },
];

for (const r of REFUSALS) {
  test(`loopback: ${r.what} is refused in one line, exit 2, before any traffic`, async () => {
    const t0 = Date.now();
    const out = await runCli(r.script, r.args);
    assert.equal(out.code, 2, out.stderr);
    assert.ok(!hasStack(out), out.stderr);
    const lines = errorLines(out);
    assert.equal(lines.length, 1, out.stderr);
    assert.match(lines[0] as string, new RegExp(`refusing .*${r.host.replace(/[.]/g, "\\.")}.*--allow-remote`));
    // a connect to TEST-NET would hang for seconds; a refusal is immediate
    assert.ok(Date.now() - t0 < 5000);
  });
}

test("loopback: a script's connections are checked by the runner too, not only by the CLI", async () => {
  const program = loadProgram(script);
  const run = await runProgram(program, { server: { host: "192.0.2.1", port: 25 }, timeoutMs: 500 });
  const failure = run.results[0]?.failure;
  assert.equal(failure?.type, "script");
  assert.match(failure?.message ?? "", /refusing to connect to 192\.0\.2\.1/);
});
