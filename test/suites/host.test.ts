// `suite run --host` against a server the toolkit does not run (issue 11): `expect delivered`
// reads --maildir after the Maildirs settle (skipped, not ERROR, without it), sizes come from the
// advertised SIZE, rcpt.unknown tells an unknown user from a relay refusal, -D domain follows -D rcpt.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startQueueingServer } from "../monkey/fixtures/queueing-server.js";
import type { QueueingServerOptions } from "../monkey/fixtures/queueing-server.js";
import { errorLines, runCli, SMTPCHAOS } from "../cli/spawn.js";
import { sizeVariables, textOfLength, SIZE_CHUNKS } from "../../smtpscript/suite-server.js";
import { Capabilities } from "../../smtp/capabilities.js";

const work = mkdtempSync(join(tmpdir(), "smtpchaos-suite-host-"));
after(() => rmSync(work, { recursive: true, force: true }));
let boxes = 0;

async function suiteAgainst(server: Partial<QueueingServerOptions>, args: (port: number, maildir: string) => string[]) {
  const maildir = join(work, `box${++boxes}`);
  const srv = await startQueueingServer({ maildir, ...server });
  try {
    return await runCli(SMTPCHAOS, ["suite", "run", "--host", "127.0.0.1", "--port", String(srv.port), ...args(srv.port, maildir)]);
  } finally {
    await srv.close();
  }
}

const users = { mode: "users", domain: "test.example", users: ["user"], enhanced: true } as const;
const line = (out: string, key: string): string => out.split("\n").find((l) => l.startsWith(`====> ${key} `)) ?? `(no line for ${key})`;

test("suite run --host without --maildir: expect-delivered cases are SKIPPED with the reason, never ERROR", async () => {
  const r = await suiteAgainst({ delayMs: { min: 2000, spread: 1000 }, rcpt: users }, () => ["pipelining"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(line(r.stdout, "pipelining/pipelining.commands-after-data-are-content"), /skipped/);
  assert.match(r.stdout, /expect delivered needs the server's Maildirs: give --maildir DIR/);
  assert.doesNotMatch(r.stdout, /ERROR/);
});

test("suite run --host --maildir: expect delivered waits for a server that delivers 2-3 s after its 250", async () => {
  const r = await suiteAgainst({ delayMs: { min: 2000, spread: 1000 }, rcpt: users }, (_p, maildir) => ["--maildir", maildir, "--settle", "3500ms", "pipelining"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(line(r.stdout, "pipelining/pipelining.commands-after-data-are-content"), / ok$/);
  assert.match(r.stdout, /│ pipelining │ \d+\s+│ 0\s+│ 0\s+│ 0\s+│ 0\s+│ 0\s+│/);
});

test("suite run --host: the size check sends just over the advertised SIZE, and is skipped with the reason without a limit", async () => {
  const limited = await suiteAgainst({ size: 300_000 }, () => ["limits"]);
  assert.match(line(limited.stdout, "limits/size.exceeded-in-data"), / ok$/, limited.stdout);
  const unlimited = await suiteAgainst({ size: 300_000, sizeWithoutLimit: true }, () => ["limits"]);
  assert.match(line(unlimited.stdout, "limits/size.exceeded-in-data"), /skipped/);
  assert.match(unlimited.stdout, /advertises SIZE without a limit \(needed for \$\{size_chunk\}\)/);
  const none = await suiteAgainst({}, () => ["limits"]);
  assert.match(line(none.stdout, "limits/size.exceeded-in-data"), /skipped/);
});

test("the size chunk: SIZE_CHUNKS of them are over the limit even without their CRs, by a few percent at most, in CRLF lines", () => {
  const v = sizeVariables(new Capabilities(new Map([["SIZE", ["52428800"]]])));
  const chunk = v.defines.size_chunk ?? "";
  const withoutCr = chunk.replaceAll("\r", "").length * SIZE_CHUNKS;
  assert.ok(withoutCr > 52_428_800, `${withoutCr} bytes without CRs`);
  assert.ok(chunk.length * SIZE_CHUNKS <= 52_428_800 * 1.02 + SIZE_CHUNKS * 2);
  assert.equal(v.defines.size_over, "52428801");
  assert.ok(chunk.split("\r\n").every((l) => l.length <= 998 && !l.includes("\n") && !l.includes("\r")));
  for (const n of [0, 1, 2, 79, 80, 81, 161]) assert.ok(textOfLength(n).length >= n && textOfLength(n).length <= n + 1 && /^(x*\r\n)*$/.test(textOfLength(n)), String(n));
  assert.match(sizeVariables(new Capabilities(new Map())).unavailable.get("size_chunk") ?? "", /no SIZE/);
});

test("suite run --host: rcpt.unknown passes on 550 5.1.1 in the server's own domain (-D domain from -D rcpt) and fails on a relay refusal", async () => {
  const rcpt = { mode: "users", domain: "example.org", users: ["user"], enhanced: true } as const;
  const own = await suiteAgainst({ rcpt }, () => ["-D", "rcpt=user@example.org", "rfc5321"]);
  assert.match(line(own.stdout, "rfc5321/rcpt.unknown"), / ok$/, own.stdout);
  const plain = await suiteAgainst({ rcpt: { ...rcpt, enhanced: false } }, () => ["-D", "rcpt=user@example.org", "rfc5321"]);
  assert.match(line(plain.stdout, "rfc5321/rcpt.unknown"), / ok$/, "no enhanced code: 550 alone is enough");
  // the domain stays test.example: the server refuses to relay, which is not an unknown-user check
  const relay = await suiteAgainst({ rcpt }, () => ["-D", "rcpt=user@example.org", "-D", "domain=test.example", "rfc5321"]);
  assert.match(line(relay.stdout, "rfc5321/rcpt.unknown"), /FAILED/);
  assert.match(relay.stdout, /Relay access denied/);
});

test("suite run --host: a missing --expectations file or --maildir directory, or --tls with --starttls, is one line, exit 2", async () => {
  const notDir = join(work, "a-file");
  writeFileSync(notDir, "");
  for (const [args, want] of [
    [["--expectations", join(work, "nope.yaml")], /--expectations .*nope\.yaml: no such file/],
    [["--expectations", work], /is a directory/],
    [["--maildir", join(work, "no-such")], /--maildir .*no-such: no such directory/],
    [["--maildir", notDir], /not a directory/],
    [["--tls", "--starttls"], /--tls and --starttls are exclusive/],
    [["--settle", "2s"], /--settle goes with --maildir/],
  ] as const) {
    const r = await suiteAgainst({}, () => [...args, "limits"]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.equal(errorLines(r).length, 1, r.stderr);
    assert.match(r.stderr, want);
  }
});
