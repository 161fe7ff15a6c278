// The original smtpscript's constructs, each with the original's verdict, run against the
// embedded target on loopback. The scripts are written here, not copied from OpenSMTPD.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../cli/spawn.js";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { parseSeed } from "../../common/rng.js";
import { EmbeddedTarget } from "../../targets/embedded/target.js";
import { freePort } from "../../targets/process/free-port.js";
import { loadProgram, parseScript } from "../../smtpscript/parse.js";
import { runProgram } from "../../smtpscript/runner.js";
import type { RunOptions } from "../../smtpscript/runner.js";
import type { RunResult } from "../../smtpscript/result.js";
import { ScriptError } from "../../smtpscript/errors.js";

const CLI = join(process.cwd(), "dist/bin/smtpscript.js");
const dir = mkdtempSync(join(tmpdir(), "smtpscript-orig-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let target: EmbeddedTarget;
let closedPort: number;

before(async () => {
  target = new EmbeddedTarget();
  await target.start();
  closedPort = await freePort();
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

function run(file: string, extra: Partial<RunOptions> = {}): Promise<RunResult> {
  return runProgram(loadProgram(file), { server: { host: "127.0.0.1", port: target.endpoint.port }, timeoutMs: 5000, seed: 1, ...extra });
}

function verdicts(r: RunResult): string[] {
  return r.results.map((x) => `${x.name}: ${x.status}${x.failure === null ? "" : ` (${x.failure.message})`}`);
}

test("a file mixing expect fail, skip, fail and a refused connect gets the original's summary line", async () => {
  const f = script(
    "mixed.smtp",
    `test-case name "xfail" no-autoconnect expect fail {
	fail "on purpose"
}
test-case name "xpass" no-autoconnect expect fail {
	noop
}
test-case name "skipped" no-autoconnect skip {
	fail "never run"
}
test-case name "fails" no-autoconnect {
	fail "ahaha! I failed"
}
test-case name "refused" no-autoconnect {
	connect "127.0.0.1" port ${closedPort}
}
test-case name "passes" {
	expect smtp ok
}
`,
  );
  const r = await cli(["--port", String(target.endpoint.port), "--seed", "7", f]);
  const lines = r.stdout.split("\n");
  assert.ok(lines.includes("passed: 2/6 (skipped: 1, failed: 2, error: 1)"), r.stdout);
  assert.ok(lines.includes('====> running test-case "xfail" fail (expected)'), r.stdout);
  assert.ok(lines.includes('====> running test-case "xpass" ok (failed)'), r.stdout);
  assert.ok(lines.includes('====> running test-case "refused" error'), r.stdout);
  assert.match(r.stdout, /ahaha! I failed\n.*\n\s+replay with --seed 7/);
  // the seed goes to stderr: stdout stays the original's output line for line
  assert.ok(r.stderr.split("\n").includes("seed: 7"), r.stderr);
  assert.ok(!lines.includes("seed: 7"), r.stdout);
  assert.equal(r.code, 1);
});

test("no-autoconnect starts without a connection; connect \"host\" port N and port \"service\" connect", async () => {
  const f = script(
    "connect.smtp",
    `test-case name "none" no-autoconnect {
	expect smtp
}
test-case name "connect" no-autoconnect {
	connect "127.0.0.1" port ${target.endpoint.port}
	expect smtp ok
	writeln "QUIT"
	expect smtp ok
	expect disconnect
	connect "localhost" port ${target.endpoint.port}
	expect smtp ok
}
`,
  );
  const r = await run(f);
  assert.equal(r.results[0]?.status, "error", verdicts(r).join("\n"));
  assert.match(r.results[0]?.failure?.message ?? "", /no connection/);
  assert.equal(r.results[1]?.status, "passed", verdicts(r).join("\n"));
  // a service name resolves at load time; an unknown one is a located error
  const bad = script("svc.smtp", 'test-case no-autoconnect {\n\tconnect "127.0.0.1" port "no-such-service-x"\n}\n');
  assert.throws(() => loadProgram(bad), (e: unknown) => e instanceof ScriptError && e.loc.line === 2 && /no such TCP service/.test(e.reason));
  assert.doesNotThrow(() => loadProgram(script("svc2.smtp", 'test-case no-autoconnect {\n\tconnect "127.0.0.1" port "smtp"\n}\n')));
});

test("repeat takes any statement; nested repeats multiply; random {} is a no-op", async () => {
  const f = script(
    "repeat.smtp",
    `test-case name "pipelined" {
	expect smtp ok
	writeln "EHLO regress"
	expect smtp helo
	writeln "MAIL FROM:<a@client.example>"
	writeln "RCPT TO:<user@test.example>"
	writeln "DATA"
	repeat 3 expect smtp ok
	writeln "."
	expect smtp ok
}
test-case name "nested" {
	expect smtp ok
	repeat 2 repeat 3 writeln "NOOP"
	repeat 6 expect smtp 250
	random {}
	writeln "QUIT"
	expect smtp 221
}
test-case name "too-few" expect fail {
	expect smtp ok
	repeat 2 repeat 3 writeln "NOOP"
	repeat 5 expect smtp 250
	writeln "QUIT"
	expect smtp 221
}
`,
  );
  const r = await run(f);
  assert.deepEqual(r.results.map((x) => x.status), ["passed", "passed", "passed"], verdicts(r).join("\n"));
  assert.equal(r.results[2]?.expectedFailure?.message.includes("221"), true);
});

test("expect smtp ok|tempfail|permfail want one line; helo and a bare expect take a multi-line reply; 354 is ok", async () => {
  const f = script(
    "multiline.smtp",
    `proc ehlo { expect smtp ok
	writeln "EHLO regress"
}
test-case name "ok-multiline" { call ehlo
	expect smtp ok
}
test-case name "helo-multiline" { call ehlo
	expect smtp helo
}
test-case name "any-multiline" { call ehlo
	expect smtp
}
test-case name "data-354" { call ehlo
	expect smtp helo
	writeln "MAIL FROM:<a@client.example>"
	expect smtp ok
	writeln "RCPT TO:<user@test.example>"
	expect smtp ok
	writeln "DATA"
	expect smtp ok
}
test-case name "helo-tempfail" { call ehlo
	expect smtp tempfail
}
`,
  );
  const r = await run(f);
  assert.deepEqual(r.results.map((x) => x.status), ["failed", "passed", "passed", "passed", "failed"], verdicts(r).join("\n"));
  assert.match(r.results[0]?.failure?.message ?? "", /^single line response expected/);
});

test("starttls is the handshake only: the script writes STARTTLS and expects 220 itself", async () => {
  const f = script(
    "tls.smtp",
    `test-case name "starttls" {
	expect smtp ok
	writeln "EHLO regress"
	expect smtp helo
	writeln "STARTTLS"
	expect smtp ok
	starttls
	writeln "EHLO regress"
	expect smtp helo
}
test-case name "upgrade-tls" {
	expect smtp ok
	writeln "EHLO regress"
	expect smtp helo
	upgrade-tls
	writeln "EHLO regress"
	expect smtp helo
}
test-case name "handshake-without-command" {
	expect smtp ok
	writeln "EHLO regress"
	expect smtp helo
	timeout 1s
	starttls
}
`,
  );
  const r = await run(f);
  assert.deepEqual(r.results.map((x) => x.status), ["passed", "passed", "error"], verdicts(r).join("\n"));
  // the handshake-only starttls sent no STARTTLS command of its own
  const sent = r.results[0]?.transcripts[0]?.entries.filter((e) => e.dir === "client").map((e) => e.data.trim());
  assert.deepEqual(sent?.filter((d) => /^STARTTLS/i.test(d)), ["STARTTLS"]);
});

test("the original's lexer: name = value and $name, bare words, multi-line and escaped strings, %params, ms durations, <file:line> names", async () => {
  const f = script(
    "lexer.smtp",
    `greeting = "HELO regress"
proc hello %who %where {
	writeln \\
$greeting
	expect smtp ok
}
test-case {
	expect smtp ok
	call "hello"
	writeln "MAIL FROM:<a@client
.example>"
	expect smtp ok
	writeln 'RCPT TO:<user@test.example>'
	expect smtp ok
	writeln NOOP
	expect smtp ok
	sleep 20
}
`,
  );
  const p = loadProgram(f);
  const sleep = p.testCases[0]?.body.at(-1);
  assert.ok(sleep?.kind === "sleep" && sleep.ms === 20);
  const parsed = parseScript('test-case { sleep 2s\nsleep 1m\nsleep 1h\nwriteln "a\\"b" }', "d.smtp").items[0];
  assert.ok(parsed?.kind === "test-case");
  assert.deepEqual(parsed.body.map((s) => (s.kind === "sleep" ? s.ms : s.kind === "writeln" ? s.text.parts : null)), [2000, 60000, 3600000, ['a"b']]);
  const r = await run(f);
  assert.equal(r.results[0]?.name, `<${f}:7>`);
  assert.equal(r.results[0]?.status, "passed", verdicts(r).join("\n"));
  const sent = r.results[0]?.transcripts[0]?.entries.filter((e) => e.dir === "client").map((e) => e.data.trimEnd());
  assert.deepEqual(sent, ["HELO regress", "MAIL FROM:<a@client.example>", "RCPT TO:<user@test.example>", "NOOP"]);
});

test("repeat chains count as nesting: 64 levels parse, 65 are a located error", () => {
  const chain = (n: number): string => `test-case {\n\t${"repeat 1 ".repeat(n)}noop\n}\n`;
  assert.doesNotThrow(() => parseScript(chain(63), "r.smtp"));
  assert.throws(() => parseScript(chain(65), "r.smtp"), (e: unknown) => e instanceof ScriptError && e.loc.line === 2 && /nested deeper than 64/.test(e.reason));
  assert.throws(() => parseScript(`test-case {\n${"repeat 1 {\n".repeat(40)}${"repeat 1 ".repeat(30)}noop\n${"}\n".repeat(40)}}`, "r.smtp"), (e: unknown) => e instanceof ScriptError && /nested deeper/.test(e.reason));
  assert.throws(() => loadProgram(script("big.smtp", "test-case { repeat 2 repeat 1000001 noop }")), (e: unknown) => e instanceof ScriptError && /over the limit/.test(e.reason));
});

test("--check parses and resolves without a network: exit 0, or 2 with located errors", async () => {
  const good = script("good.smtp", 'x = "1"\nproc p { noop }\ntest-case { call p }\n');
  const bad = script("bad.smtp", "test-case {\n\tcall nope\n}\n");
  // port 1 is closed: --check must not connect at all
  const ok = await cli(["--check", "--port", "1", good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /good\.smtp: ok \(1 test-case, 1 proc\)/);
  const ko = await cli(["--check", good, bad]);
  assert.equal(ko.code, 2);
  assert.match(ko.stderr, /bad\.smtp:2:2: error: call of undefined proc "nope"/);
});

test("-t prints TAP with the seed; -d/-r delay between test-cases; --seed takes any text, an empty one is a usage error", async () => {
  const f = script("tap.smtp", 'test-case name "a" { expect smtp ok }\ntest-case name "b" { fail "x" }\n');
  const r = await cli(["-t", "--seed", "0x2a", "-d", "30", "-r", "--port", String(target.endpoint.port), f]);
  assert.match(r.stdout, /^TAP version 13\n1\.\.2\n# seed: 42\nok 1 - a\nnot ok 2 - b\n/);
  assert.match(r.stdout, / {2}seed: 42\n/);
  const t0 = Date.now();
  await cli(["-d", "400", "--port", String(target.endpoint.port), f]);
  assert.ok(Date.now() - t0 >= 800, "two test-cases each wait -d 400");
  // one seed syntax in every tool: text is hashed (as the monkey always did), so only an empty seed is refused
  const named = await cli(["-t", "--seed", "banana", "--port", String(target.endpoint.port), f]);
  assert.match(named.stdout, new RegExp(`# seed: ${parseSeed("banana")}\\n`));
  const bad = await cli(["--seed", " ", f]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--seed: a seed cannot be empty/);
});

test("JSON and JUnit reports carry the seed", async () => {
  const f = script("rep.smtp", 'test-case name "b" no-autoconnect { fail "x" }\n');
  const json = await cli(["--reporter", "json", "--seed", "99", f]);
  assert.equal(JSON.parse(json.stdout).seed, 99);
  const junit = await cli(["--reporter", "junit", "--seed", "99", f]);
  assert.match(junit.stdout, /<property name="seed" value="99"\/>/);
  assert.match(junit.stdout, /replay with --seed 99/);
});

const BRANCHES = ["NOOP", "RSET", "HELP", "VRFY postmaster"];

/** A generated statement mixing random, repeat and blocks; every leaf sends one command. */
const genStatement: fc.Arbitrary<string> = fc.letrec<{ st: string }>((tie) => ({
  st: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(...BRANCHES).map((c) => `writeln "${c}"`),
    fc.array(tie("st"), { maxLength: 3 }).map((b) => `random {\n${b.join("\n")}\n}`),
    fc.tuple(fc.integer({ min: 1, max: 3 }), tie("st")).map(([n, s]) => (s.includes("\n") ? `repeat ${n} {\n${s}\n}` : `repeat ${n} ${s}`)),
  ),
})).st;

function clientLines(r: RunResult): string[] {
  return r.results.flatMap((x) => x.transcripts.flatMap((t) => t.entries.filter((e) => e.dir === "client").map((e) => e.data)));
}

test("property: the same seed gives the same transcript; every random branch is taken over many seeds", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(genStatement, { minLength: 1, maxLength: 4 }), fc.nat(), async (body, seed) => {
      const f = script("prop.smtp", `test-case {\n${body.join("\n")}\n}\n`);
      const a = await run(f, { seed });
      const b = await run(f, { seed });
      assert.deepEqual(clientLines(a), clientLines(b));
    }),
    { numRuns: 25 },
  );
  const f = script("branches.smtp", `test-case {\n\trandom {\n${BRANCHES.map((c) => `\t\twriteln "${c}"`).join("\n")}\n\t}\n}\n`);
  const seen = new Set<string>();
  for (let seed = 0; seed < 40; seed++) for (const l of clientLines(await run(f, { seed }))) seen.add(l.trim());
  assert.deepEqual([...seen].sort(), [...BRANCHES].sort());
});

test("${uniq} derives from the seed", async () => {
  const f = script("uniq.smtp", 'test-case { expect smtp ok\n\twriteln "NOOP ${uniq}"\n\texpect smtp ok\n}\n');
  const a = clientLines(await run(f, { seed: 5 }));
  const b = clientLines(await run(f, { seed: 5 }));
  const c = clientLines(await run(f, { seed: 6 }));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test("the reference documents every statement keyword of the grammar, and nothing else", () => {
  const grammar = readFileSync(join(process.cwd(), "smtpscript/grammar.peggy"), "utf8");
  const readme = readFileSync(join(process.cwd(), "smtpscript/README.md"), "utf8");
  const ruleBody = (name: string): string => {
    const m = new RegExp(`^${name}(?: "[^"]*")?\\n((?:  .*\\n|\\s*\\n)+)`, "m").exec(grammar);
    assert.ok(m, `rule ${name}`);
    return m[1] as string;
  };
  const alternatives = (name: string): string[] => [...ruleBody(name).matchAll(/^ {2}[=/] (\w+)\s*$/gm)].map((m) => m[1] as string);
  // The leading keywords of each alternative of a rule: "expect" Sep "no" Sep "capability" -> "expect no capability".
  const keywordsOf = (rule: string): string[] =>
    ruleBody(rule)
      .split(/\n {2}[=/] /)
      .map((alt) => {
        const words: string[] = [];
        for (const tok of alt.replace(/^\s*[=/]\s*/, "").split(/\s+/)) {
          const lit = /^"([a-z-]+)"$/.exec(tok);
          if (lit !== null) words.push(lit[1] as string);
          else if (tok === "KwSmtp") words.push("smtp");
          else if (!["Sep", "HSep", "_", "!WordChar", ""].includes(tok)) break;
        }
        return words.join(" ");
      })
      .filter((k) => k !== "");
  const keywords = new Set([...alternatives("Statement"), ...alternatives("TopItem")].flatMap(keywordsOf));
  const options = new Set(keywordsOf("TestCaseOption"));
  assert.ok(keywords.has("expect smtp") && keywords.has("repeat") && keywords.has("upgrade-tls") && options.has("no-autoconnect"), [...keywords].join(","));
  const headings = readme.split("\n").filter((l) => l.startsWith("### ")).join("\n");
  for (const k of [...keywords, ...options]) assert.ok(headings.includes("`" + k), `smtpscript/README.md has no heading for \`${k}\``);
  // and no heading documents a statement the grammar does not have
  for (const m of headings.matchAll(/`([a-z][a-z-]*)/g)) {
    const word = m[1] as string;
    assert.ok([...keywords, ...options].some((k) => k.split(" ")[0] === word) || ["name", "on", "match"].includes(word), `README heading for unknown statement \`${word}\``);
  }
});
