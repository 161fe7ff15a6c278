// Bad input through the real CLIs: every case of README's "Exit codes" row for code 2, plus
// malformed storm merge parts, malformed expectations, monkey windows that do not fit the run,
// and escape bytes from files. Each: exit 2, one line on stderr naming the thing, no stack trace,
// no raw control character on the terminal.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../targets/process/free-port.js";
import { startRawServer } from "../smtp/raw-server.js";
import { runCli, SMTPCHAOS, SMTPSCRIPT, errorLines, hasStack } from "./spawn.js";
import type { CliRun } from "./spawn.js";
import { Metrics } from "../../storm/metrics.js";
import { toJson } from "../../storm/report.js";
import type { StormJson } from "../../storm/report.js";

const dir = mkdtempSync(join(tmpdir(), "smtpchaos-bad-input-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/** Exit 2, one error line matching `pattern`, no stack, nothing raw; `info` lines (the run's own
 * start line, printed before it found the problem) are not errors. */
function refused(out: CliRun, pattern: RegExp, info?: RegExp): void {
  assert.equal(out.code, 2, `exit code; stderr: ${out.stderr}`);
  assert.ok(!hasStack(out), `stack trace: ${out.stderr}`);
  const lines = errorLines(out).filter((l) => info === undefined || !info.test(l));
  assert.equal(lines.length, 1, `one line expected: ${JSON.stringify(out.stderr)}`);
  assert.match(lines[0] as string, pattern);
  assert.doesNotMatch(out.stderr + out.stdout, RAW_CONTROL, "a control character reached the terminal raw");
}

/** A part as loose JSON, to break on purpose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

/** A well-formed storm --json part, to break one field at a time; `refused`: nothing connected. */
function part(o: { refused?: boolean } = {}): StormJson {
  const m = new Metrics();
  m.sessionStarted();
  if (o.refused === true) m.sessionEnded("refused", 0);
  else {
    m.phase("rcpt", 3);
    m.sessionEnded("ok", 1);
  }
  m.sample(0);
  return toJson({ metrics: m, startedAt: Date.now(), seed: 1, durationMs: 1000, interrupted: false, model: "closed", failure: null }, "127.0.0.1:2525", []);
}
const partFile = (name: string, change: (d: Doc) => void, o: { refused?: boolean } = {}): string => {
  const d = structuredClone(part(o)) as unknown as Doc;
  change(d);
  return file(name, JSON.stringify(d));
};

test("storm merge: a well-formed part merges (the baseline the cases below break)", async () => {
  const out = await runCli(SMTPCHAOS, ["storm", "merge", partFile("good.json", () => {})]);
  assert.equal(out.code, 0, out.stderr);
});

const MERGE_PARTS: Array<[string, (d: Doc) => void, RegExp]> = [
  ["snapshot.phases a string", (d) => (d.snapshot.phases = "x"), /phases-string\.json: snapshot\.phases: expected an object/],
  ["snapshot.sessions a string", (d) => (d.snapshot.sessions = "7"), /sessions-string\.json: snapshot\.sessions: expected a number/],
  ["snapshot.timeline an object", (d) => (d.snapshot.timeline = {}), /timeline-object\.json: snapshot\.timeline: expected an array/],
  ["snapshot.codes counts as strings", (d) => (d.snapshot.codes = { "rcpt 250": "1" }), /codes\.json: snapshot\.codes\.rcpt 250: expected a count/],
  ["durationMs missing", (d) => delete d.durationMs, /duration\.json: durationMs: expected a number/],
  ["shard.index out of range", (d) => (d.shard = { index: 5, count: 2, runSeed: 1 }), /shard\.json: shard\.index/],
  ["a corrupt histogram bucket", (d) => (d.snapshot.phases.rcpt.buckets = [[99999, 1]]), /bucket\.json: snapshot\.phases\.rcpt: histogram bucket 99999/],
  ["a histogram bucket not a pair", (d) => (d.snapshot.phases.rcpt.buckets = [5]), /pair\.json: snapshot\.phases\.rcpt\.buckets\[0\]/],
  ["an unknown phase", (d) => (d.snapshot.phases.warp = d.snapshot.phases.rcpt), /phase\.json: snapshot\.phases\.warp: not a phase/],
];
const MERGE_NAMES = ["phases-string", "sessions-string", "timeline-object", "codes", "duration", "shard", "bucket", "pair", "phase"];

MERGE_PARTS.forEach(([what, change, pattern], i) => {
  test(`storm merge refuses a part with ${what}`, async () => {
    refused(await runCli(SMTPCHAOS, ["storm", "merge", partFile(`${MERGE_NAMES[i]}.json`, change)]), pattern);
  });
});

test("storm merge: escape bytes in a part's file are shown escaped", async () => {
  const p = partFile("esc.json", (d) => (d.snapshot.kinds = { "\x1b[2J\x07": "x" }));
  refused(await runCli(SMTPCHAOS, ["storm", "merge", p]), /esc\.json: snapshot\.kinds\.\\x1b\[2J\\x07: expected a count/);
  const bad = file("esc-syntax.json", '{"a": \x1b[2J}');
  refused(await runCli(SMTPCHAOS, ["storm", "merge", bad]), /esc-syntax\.json: .*JSON/);
});

const EXPECTATIONS: Array<[string, string | Buffer, RegExp]> = [
  ["binary garbage", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x1b, 0x5b, 0x32, 0x4a, 0x07, 0x00, 0xff]), /garbage\.yaml: .*expected a mapping/],
  ["a bare string", "just a string\n", /string\.yaml: not an expectations file: expected a mapping .*got a string/],
  ["a list", "- graceful/x\n", /list\.yaml: .*got a list/],
  ["an empty file", "", /empty\.yaml: .*got an empty document/],
  ["an unknown section", "deviatons:\n  graceful/x: typo\n", /section\.yaml: unknown section "deviatons"/],
];
const EXPECTATION_NAMES = ["garbage", "string", "list", "empty", "section"];

EXPECTATIONS.forEach(([what, text, pattern], i) => {
  test(`suite run --expectations refuses ${what}`, async () => {
    const port = await freePort();
    const f = file(`${EXPECTATION_NAMES[i]}.yaml`, text);
    refused(await runCli(SMTPCHAOS, ["suite", "run", "--port", String(port), "--expectations", f]), pattern);
  });
});

const WINDOWS: Array<[string, string[], RegExp]> = [
  ["--clean longer than --duration", ["--duration", "2s", "--clean", "10s"], /2s duration leaves no time for faults after clean 10s/],
  ["--clean + --heal filling --duration exactly (faults 0ms)", ["--duration", "10s", "--clean", "5s", "--heal", "5s"], /10s duration leaves no time for faults/],
  ["explicit --faults past --duration", ["--duration", "10s", "--clean", "2s", "--faults", "7s", "--heal", "2s"], /clean 2s \+ faults 7s \+ heal 2s = 11s do not fit the run's 10s duration/],
];

for (const [what, args, pattern] of WINDOWS) {
  test(`monkey run refuses windows that do not fit: ${what}`, async () => {
    refused(await runCli(SMTPCHAOS, ["monkey", "run", ...args]), pattern);
  });
}

test("monkey run: a plan file's windows that do not fit are refused too", async () => {
  const plan = file("windows.yaml", "windows:\n  clean: 10s\n  heal: 20s\npoints:\n  queue.write: { probability: 0.1 }\n");
  refused(await runCli(SMTPCHAOS, ["monkey", "run", "--plan", plan, "--duration", "15s"]), /15s duration leaves no time for faults after clean 10s and heal 20s/);
});

test("smtpscript: escape bytes in a script line are shown escaped in the error's excerpt", async () => {
  const p = file("esc.smtp", 'test-case name "one" {\n  expect smtp ok \x1b[2J\x07\x9b\n}\n');
  const out = await runCli(SMTPSCRIPT, [p]);
  assert.equal(out.code, 2, out.stderr);
  assert.ok(!hasStack(out), out.stderr);
  assert.doesNotMatch(out.stderr + out.stdout, RAW_CONTROL, `raw control characters: ${JSON.stringify(out.stderr)}`);
  assert.match(out.stderr, /esc\.smtp:2:\d+: error: /);
  assert.match(out.stderr, /expect smtp ok \\x1b\[2J\\x07\\x9b/);
});


// README "Exit codes", the row for code 2, case by case through the real CLIs.
const script = file("one.smtp", 'test-case name "one" {\n  expect smtp ok\n}\n');
const empty = file("empty.smtp", 'set greeting "hello"\n');
const unparsable = file("unparsable.smtp", 'test-case name "one" {\n  expect smtp okay\n}\n');

const README_ROW: Array<[string, string, string[], RegExp]> = [
  ["a port outside 1-65535", SMTPCHAOS, ["storm", "--port", "70000"], /--port must be a port number 1-65535, got "70000"/],
  ["a duration of 0", SMTPCHAOS, ["storm", "--port", "2525", "--duration", "0"], /--duration must be > 0/],
  ["a duration beyond 2^31-1 ms", SMTPCHAOS, ["storm", "--port", "2525", "--timeout", "1000h"], /--timeout: 1000h is too long/],
  ["a report file whose directory does not exist", SMTPCHAOS, ["storm", "--port", "2525", "--json", "/nonexistent-dir/r.json"], /--json \/nonexistent-dir\/r\.json: directory \/nonexistent-dir does not exist/],
  ["no test-case to run", SMTPSCRIPT, [empty], /no test-case in .*empty\.smtp/],
  ["an expectations file that does not exist", SMTPCHAOS, ["suite", "run", "--port", "2525", "--expectations", "/nonexistent.yaml"], /--expectations \/nonexistent\.yaml: no such file/],
  ["a non-loopback host without --allow-remote", SMTPCHAOS, ["storm", "--host", "192.0.2.1", "--port", "25", "--duration", "1s"], /192\.0\.2\.1.*--allow-remote/],
  ["a non-loopback smtpscript --host", SMTPSCRIPT, ["--host", "192.0.2.1", script], /192\.0\.2\.1.*--allow-remote/],
];

for (const [what, cli, args, pattern] of README_ROW) {
  test(`exit 2: ${what}`, async () => refused(await runCli(cli, args), pattern));
}

test("exit 2: a script that does not parse (the error line, then the excerpt and a caret)", async () => {
  const out = await runCli(SMTPSCRIPT, [unparsable]);
  assert.equal(out.code, 2, out.stderr);
  assert.ok(!hasStack(out), out.stderr);
  const lines = errorLines(out);
  assert.match(lines[0] as string, /unparsable\.smtp:2:\d+: error: /);
  assert.equal(lines.length, 3, `one error line, the line and the caret: ${out.stderr}`);
  assert.match(lines[1] as string, /^ 2 \| {3}expect smtp okay$/);
  assert.match(lines[2] as string, /^ {3}\| +\^$/);
});

test("exit 2: unreachable servers (storm: nothing connected; monkey: no 220 banner; suite run)", async () => {
  const port = await freePort();
  refused(await runCli(SMTPCHAOS, ["storm", "--port", String(port), "--sessions", "2", "--duration", "500ms"]), new RegExp(`127\\.0\\.0\\.1:${port} unreachable`), /^storm: /);
  refused(
    await runCli(SMTPCHAOS, ["monkey", "run", "--host", "127.0.0.1", "--port", String(port), "--rcpt", "u@test.example", "--duration", "1s", "--timeout", "1s"]),
    new RegExp(`startup probe failed: 127\\.0\\.0\\.1:${port}: `),
    /^monkey: /,
  );
  refused(await runCli(SMTPCHAOS, ["suite", "run", "--port", String(port)]), new RegExp(`server unreachable: 127\\.0\\.0\\.1:${port}`));
});

test("exit 2: a control port in use", async () => {
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
  const port = (busy.address() as net.AddressInfo).port;
  try {
    refused(await runCli(SMTPCHAOS, ["monkey", "serve", "--control-port", String(port)]), new RegExp(`--control-port ${port}: 127\\.0\\.0\\.1:${port} is already in use`));
  } finally {
    busy.close();
  }
});

test("exit 2: a report file that could not be written at the end; the report is still printed", async () => {
  const out = await runCli(SMTPCHAOS, ["storm", "merge", partFile("written.json", () => {}), "--json", "/dev/full"]);
  refused(out, /cannot write \/dev\/full: ENOSPC/);
  assert.match(out.stdout, /storm against 127\.0\.0\.1:2525 \(1 part merged\)/);
});

test("storm merge, exit 2: an unreadable part, a foreign part, the same shard twice, parts apart in time, nothing connected", async () => {
  refused(await runCli(SMTPCHAOS, ["storm", "merge", join(dir, "missing.json")]), /missing\.json: no such file/);
  refused(await runCli(SMTPCHAOS, ["storm", "merge", file("foreign.json", '{"passed": 3}')]), /foreign\.json: not a storm --json result/);
  const shard = partFile("shard1.json", (d) => (d.shard = { index: 0, count: 2, runSeed: 9 }));
  refused(await runCli(SMTPCHAOS, ["storm", "merge", shard, shard]), /shard1\.json and .*shard1\.json are both shard 1\/2/);
  const early = partFile("early.json", (d) => (d.startedAt -= 3_600_000));
  const late = partFile("late.json", () => {});
  refused(await runCli(SMTPCHAOS, ["storm", "merge", early, late]), /did not all run at the same time.*--apart-ok/);
  const nothing = partFile("nothing.json", () => {}, { refused: true });
  refused(await runCli(SMTPCHAOS, ["storm", "merge", nothing]), /unreachable: .* in any part/);
});

test("escape bytes from a peer: the monkey's startup probe and smtpscript's failure show them escaped", async () => {
  const srv = await startRawServer((peer) => void peer.socket.write("554 go\x1b[2J away\x07\x9b\r\n"));
  try {
    const probe = await runCli(SMTPCHAOS, ["monkey", "run", "--host", "127.0.0.1", "--port", String(srv.port), "--rcpt", "u@test.example", "--duration", "1s", "--timeout", "1s"]);
    refused(probe, /greeted with 554 go\\x1b\[2J away\\x07\\x9b/, /^monkey: /);
    const run = await runCli(SMTPSCRIPT, ["--port", String(srv.port), script]);
    assert.equal(run.code, 1, run.stderr);
    assert.ok(!hasStack(run), run.stderr);
    assert.match(run.stdout, /go\\x1b\[2J away\\x07\\x9b/);
    assert.doesNotMatch(run.stdout + run.stderr, RAW_CONTROL, `raw control characters: ${JSON.stringify(run.stdout)}`);
    const tap = await runCli(SMTPSCRIPT, ["--port", String(srv.port), "--reporter", "tap", script]);
    assert.equal(tap.code, 1, tap.stderr);
    assert.match(tap.stdout, /not ok 1 - one/);
    assert.doesNotMatch(tap.stdout + tap.stderr, RAW_CONTROL, `raw control characters in TAP: ${JSON.stringify(tap.stdout)}`);
  } finally {
    await srv.close();
  }
});

test("escape bytes in a target file and a fault plan are shown escaped in their (multi-line, documented) problem lists", async () => {
  const target = file("bad.target.yaml", 'name: "x\x1b[2Jy"\nbogus\x07: 1\n');
  const t = await runCli(SMTPCHAOS, ["target", "start", target]);
  assert.equal(t.code, 2, t.stderr);
  assert.ok(!hasStack(t), t.stderr);
  assert.match(errorLines(t)[0] as string, /bad\.target\.yaml: \d+ problems:/);
  assert.match(t.stderr, /bogus\\x07: unknown field/);
  assert.doesNotMatch(t.stderr + t.stdout, RAW_CONTROL, JSON.stringify(t.stderr));
  const plan = file("escape-plan.yaml", 'points:\n  "queue.writ\x1b[2J": { always: true }\n');
  const m = await runCli(SMTPCHAOS, ["monkey", "run", "--plan", plan, "--duration", "5s"]);
  assert.equal(m.code, 2, m.stderr);
  assert.ok(!hasStack(m), m.stderr);
  assert.match(errorLines(m)[0] as string, /escape-plan\.yaml: invalid fault plan: /);
  assert.match(m.stderr, /queue\.writ\\x1b\[2J/);
  assert.doesNotMatch(m.stderr + m.stdout, RAW_CONTROL, JSON.stringify(m.stderr));
});

test("escape bytes in a storm mix file are shown escaped", async () => {
  const mix = file("escape-mix.yaml", 'weights:\n  "bas\x1b[2Jic": 1\n');
  refused(await runCli(SMTPCHAOS, ["storm", "--port", "2525", "--mix", mix]), /unknown session kind "bas\\x1b\[2Jic"/);
});
