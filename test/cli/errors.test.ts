// Items 6-8: every bad input is one line on stderr, exit 2, no stack trace; wrong-exit-code cases.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { writeFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, SMTPCHAOS, SMTPSCRIPT, errorLines, hasStack } from "./spawn.js";
import type { CliRun } from "./spawn.js";
import { freePort } from "../../targets/process/free-port.js";
import { startFixture } from "../storm/fixture-server.js";
import { startRawServer } from "../smtp/raw-server.js";

const dir = mkdtempSync(join(tmpdir(), "smtpchaos-errors-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const script = file("one.smtp", 'test-case name "one" {\n  expect smtp ok\n}\n');
const empty = file("empty.smtp", 'set greeting "hello"\n');
const mixString = file("mix-string.yaml", "just a string\n");
const mixYaml = file("mix-bad.yaml", "weights: [\n");
const mixJson = file("mix-bad.json", '{"weights": ');

function oneLine(out: CliRun, pattern: RegExp, code = 2): void {
  assert.equal(out.code, code, `exit code; stderr: ${out.stderr}`);
  assert.ok(!hasStack(out), `stack trace: ${out.stderr}`);
  const lines = errorLines(out);
  assert.equal(lines.length, 1, `one line expected: ${out.stderr}`);
  assert.match(lines[0] as string, pattern);
}

const USAGE_ERRORS: Array<[string, string[], RegExp]> = [
  ["storm --port 70000", ["storm", "--port", "70000"], /--port must be a port number 1-65535, got "70000"/],
  ["storm --port 25x", ["storm", "--port", "25x"], /--port .*"25x"/],
  ["storm --port 0", ["storm", "--port", "0"], /--port .*"0"/],
  ["storm --tls-port 99999", ["storm", "--port", "2525", "--tls-port", "99999"], /--tls-port .*99999/],
  ["storm --port6 99999", ["storm", "--port", "2525", "--port6", "99999"], /--port6 .*99999/],
  ["storm --mix DIR", ["storm", "--port", "2525", "--mix", dir], /--mix .*is a directory/],
  ["storm --mix malformed YAML", ["storm", "--port", "2525", "--mix", mixYaml], /--mix .*mix-bad\.yaml: /],
  ["storm --mix malformed JSON", ["storm", "--port", "2525", "--mix", mixJson], /--mix .*mix-bad\.json: /],
  ["storm --mix a plain string", ["storm", "--port", "2525", "--mix", mixString], /expected a mapping .*got a string/],
  ["storm --weight basic", ["storm", "--port", "2525", "--weight", "basic"], /--weight expects NAME=VALUE/],
  ["storm --sessions -1", ["storm", "--port", "2525", "--sessions", "-1"], /--sessions must be an integer >= 1, got "-1"/],
  ["storm --duration 0", ["storm", "--port", "2525", "--duration", "0"], /--duration must be > 0/],
  ["storm --timeout 1000h", ["storm", "--port", "2525", "--timeout", "1000h"], /--timeout: 1000h is too long/],
  ["storm --json into a missing directory", ["storm", "--port", "2525", "--json", "/nonexistent-dir/r.json"], /--json .*does not exist/],
  ["storm --html into a missing directory", ["storm", "--port", "2525", "--html", "/nonexistent-dir/r.html"], /--html .*does not exist/],
  ["suite run --port 70000", ["suite", "run", "--port", "70000"], /--port .*70000/],
  ["suite run --expectations missing", ["suite", "run", "--port", "2525", "--expectations", "/nonexistent.yaml"], /--expectations \/nonexistent\.yaml: no such file/],
  ["suite run --reporter junit= missing dir", ["suite", "run", "--port", "2525", "--reporter", "junit=/nonexistent-dir/j.xml"], /--reporter junit .*does not exist/],
  ["monkey run --target nosuch", ["monkey", "run", "--target", "nosuch", "--duration", "1s"], /unknown target "nosuch"/],
  ["monkey run --control-port 70000", ["monkey", "run", "--control-port", "70000", "--duration", "1s"], /--control-port .*70000/],
  ["monkey run --duration 0", ["monkey", "run", "--duration", "0"], /--duration must be > 0/],
  ["monkey run --json missing dir", ["monkey", "run", "--duration", "1s", "--json", "/nonexistent-dir/m.json"], /--json .*does not exist/],
  ["monkey points --api notaurl", ["monkey", "points", "--api", "notaurl"], /--api: not a URL/],
  ["monkey set /nonexistent", ["monkey", "set", "/nonexistent", "--api", "http://127.0.0.1:9/"], /set \/nonexistent: no such file/],
];

for (const [what, args, pattern] of USAGE_ERRORS) {
  test(`one-line error: ${what}`, async () => oneLine(await runCli(SMTPCHAOS, args), pattern));
}

const SCRIPT_ERRORS: Array<[string, string[], RegExp]> = [
  ["--timeout 0", ["--timeout", "0", script], /--timeout must be > 0/],
  ["--timeout 1000h", ["--timeout", "1000h", script], /--timeout: 1000h is too long/],
  ["--port 70000", ["--port", "70000", script], /--port .*70000/],
  ["--jobs -1", ["--jobs", "-1", script], /--jobs must be an integer >= 1, got "-1"/],
  ["--monkey notaurl", ["--monkey", "notaurl", script], /--monkey: not a URL/],
  ["--reporter junit= missing dir", ["--reporter", "junit=/nonexistent-dir/j.xml", script], /--reporter junit .*does not exist/],
  ["an unknown flag", ["--bogus", script], /Unknown option '--bogus'/],
  ["a file without test-cases", [empty], /no test-case in .*empty\.smtp/],
  ["--grep matching nothing", ["--grep", "zzz", script], /no test-case matches --grep zzz/],
];

for (const [what, args, pattern] of SCRIPT_ERRORS) {
  test(`one-line error: smtpscript ${what}`, async () => oneLine(await runCli(SMTPSCRIPT, args), pattern));
}

test("smtpscript --allow-empty accepts a file without test-cases, and says so", async () => {
  const out = await runCli(SMTPSCRIPT, ["--allow-empty", empty]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stderr, /no test-case in .*empty\.smtp/);
});

test("report files are checked before any traffic", async () => {
  const fx = await startFixture();
  try {
    const out = await runCli(SMTPCHAOS, ["storm", "--port", String(fx.port), "--duration", "1s", "--json", "/nonexistent-dir/r.json"]);
    oneLine(out, /does not exist/);
    const s = await runCli(SMTPSCRIPT, ["--port", String(fx.port), "--reporter", "json=/nonexistent-dir/r.json", script]);
    oneLine(s, /does not exist/);
    assert.equal(fx.sessions.v4, 0, "no session reached the server");
  } finally {
    await fx.close();
  }
});

test("storm against a closed port: unreachable, exit 2", async () => {
  const port = await freePort();
  const out = await runCli(SMTPCHAOS, ["storm", "--port", String(port), "--sessions", "2", "--duration", "500ms"]);
  assert.equal(out.code, 2, out.stderr);
  assert.ok(!hasStack(out));
  // recognized from the first refusals, not after a flood of connects
  assert.match(out.stderr, new RegExp(`127\\.0\\.0\\.1:${port} unreachable: connection refused: the first \\d+ sessions were all refused`));
});

test("suite run against a closed port: one line, exit 2", async () => {
  const port = await freePort();
  oneLine(await runCli(SMTPCHAOS, ["suite", "run", "--port", String(port)]), new RegExp(`server unreachable: 127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
});

test("storm on SIGTERM reports like on SIGINT and exits 130", async () => {
  const fx = await startFixture();
  try {
    let sent = false;
    const out = await runCli(SMTPCHAOS, ["storm", "--port", String(fx.port), "--sessions", "2", "--duration", "60s"], {
      onStdout: (text, kill) => {
        if (!sent && /concurrent sessions/.test(text)) {
          sent = true;
          setTimeout(() => kill("SIGTERM"), 700);
        }
      },
    });
    assert.equal(out.code, 130, out.stderr);
    assert.match(out.stderr, /interrupted/);
    assert.match(out.stdout, /storm against 127\.0\.0\.1:\d+: \d+ sessions/);
  } finally {
    await fx.close();
  }
});

test("closed-loop storm checks the fd limit, counting the in-process embedded target", async () => {
  // 200 sessions + margin fit in 300 descriptors for a remote server, not with the server's side in-process too
  const out = await runCli(SMTPCHAOS, ["storm", "--target", "embedded", "--sessions", "200", "--duration", "1s"], { shell: "ulimit -n 300" });
  oneLine(out, /200 sessions against the in-process embedded target need about 464 file descriptors, but the limit is 300/);
});

test("monkey: a control port in use is one line, exit 2", async () => {
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
  const port = (busy.address() as net.AddressInfo).port;
  try {
    oneLine(await runCli(SMTPCHAOS, ["monkey", "serve", "--control-port", String(port)]), new RegExp(`--control-port ${port}: 127\\.0\\.0\\.1:${port} is already in use`));
  } finally {
    busy.close();
  }
});

const HOSTILE: Array<[string, (s: net.Socket) => void, RegExp]> = [
  ["silent", () => {}, /timed out after 1000 ms waiting for banner/],
  ["slow", (s) => void setTimeout(() => s.write("2"), 300), /timed out after 1000 ms waiting for banner/],
  ["garbage", (s) => void s.write("HELLO THERE\r\n"), /malformed reply/],
  ["999", (s) => void s.write("999 what\r\n"), /malformed reply.*999/],
  // the reset may come before Node saw the connection complete, or while the banner is awaited
  ["resetting", (s) => s.resetAndDestroy(), /reset the connection|ECONNRESET/],
  ["554", (s) => void s.write("554 go away\r\n"), /greeted with 554/],
];

for (const [what, behave, pattern] of HOSTILE) {
  test(`monkey startup probe against a ${what} server: one line naming host:port, exit 2`, async () => {
    const srv = await startRawServer((peer) => behave(peer.socket));
    try {
      const out = await runCli(SMTPCHAOS, ["monkey", "run", "--host", "127.0.0.1", "--port", String(srv.port), "--rcpt", "u@test.example", "--duration", "1s", "--timeout", "1s"]);
      assert.equal(out.code, 2, out.stderr);
      assert.ok(!hasStack(out), out.stderr);
      const lines = errorLines(out).filter((l) => !l.startsWith("monkey: "));
      assert.equal(lines.length, 1, out.stderr);
      assert.match(lines[0] as string, new RegExp(`startup probe failed: 127\\.0\\.0\\.1:${srv.port}: `));
      assert.match(lines[0] as string, pattern);
    } finally {
      await srv.close();
    }
  });
}

const BENCHES = readdirSync("dist/bench").filter((f) => f.endsWith(".js"));

test("every bench script answers --help with its usage, exit 0", async () => {
  assert.ok(BENCHES.length >= 3);
  for (const b of BENCHES) {
    const out = await runCli(join("dist/bench", b), ["--help"]);
    assert.equal(out.code, 0, `${b}: ${out.stderr}`);
    assert.match(out.stdout, /^usage: /, b);
  }
});

test("bench: unknown target and non-numeric counts are one-line usage errors", async () => {
  oneLine(await runCli("dist/bench/accept-rate.js", ["--target", "nosuch"]), /unknown target "nosuch"/);
  oneLine(await runCli("dist/bench/accept-rate.js", ["--messages", "abc"]), /--messages must be an integer >= 1, got "abc"/);
  oneLine(await runCli("dist/bench/held-sessions.js", ["--counts", "x"]), /--counts/);
  oneLine(await runCli("dist/bench/storm-vs-smtp-source.js", ["--target", "nosuch"]), /Unknown option '--target'/);
});
