import { test, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseScript, loadProgram } from "../../smtpscript/parse.js";
import { ScriptError } from "../../smtpscript/errors.js";
import { printScript } from "../../smtpscript/print.js";
import type { Statement } from "../../smtpscript/ast.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const tmp = mkdtempSync(join(tmpdir(), "smtpscript-parse-"));
writeFileSync(join(tmp, "dev.smtp"), 'include "/dev/zero"\n');
after(() => rmSync(tmp, { recursive: true, force: true }));

function files(map: Record<string, string>): (p: string) => string {
  return (p: string) => {
    const key = Object.keys(map).find((k) => p.endsWith(k));
    if (key === undefined) throw Object.assign(new Error("missing"), { code: "ENOENT" });
    return map[key] as string;
  };
}

test("the original syntax parses: proc, call, test-case, writeln, expect", () => {
  const f = parseScript(
    `# comment
proc init-helo {
\texpect smtp ok
\twriteln "HELO regress"
\texpect smtp helo
}
test-case name "mailfrom.empty" {
\tcall init-helo
\twriteln "MAIL FROM: <>"
\texpect smtp ok
\texpect disconnect
}
test-case { expect smtp }
`,
    "seed.smtp",
  );
  assert.equal(f.items.length, 3);
  const tc = f.items[1];
  assert.ok(tc?.kind === "test-case");
  assert.equal(tc.name, "mailfrom.empty");
  assert.deepEqual(
    tc.body.map((s) => s.kind),
    ["call", "writeln", "expect-smtp", "expect-disconnect"],
  );
  assert.deepEqual(tc.body[0]?.loc, { file: "seed.smtp", line: 8, column: 2 });
});

test("modern statements parse into the expected nodes", () => {
  const f = parseScript(
    `set rcpt "a@b.example"
test-case name "x" skip "not yet" requires capability pipelining {
  write "MAIL FROM:<>\\r\\nRCPT TO:<\${rcpt}>\\n\\x00"
  expect smtp 451 4.3.* match "lookup"
  expect smtp 2xx
  expect smtp 5.7.1
  expect capability SIZE >= 1000
  starttls
  auth login "u" "p"
  send-message from "a@b" to "c@d" size 64k
  send-message body "hi"
  sleep 250ms
  timeout 2s
  repeat 3 { writeln "NOOP" }
  connect as s2 tls
  on s2 { expect smtp ok }
  disconnect s2
  monkey fail queue.write once
}`,
    "m.smtp",
  );
  const tc = f.items[1];
  assert.ok(tc?.kind === "test-case");
  assert.equal(tc.skip, "not yet");
  assert.deepEqual(tc.requires, ["PIPELINING"]);
  const [write, e1, e2, e3, cap, , auth, sm, sm2, sleep, timeout, rep, conn, on, disc, monkey] = tc.body as Statement[];
  assert.ok(write?.kind === "write");
  assert.deepEqual(write.text.parts, ["MAIL FROM:<>\r\nRCPT TO:<", { var: "rcpt" }, ">\n\x00"]);
  assert.ok(e1?.kind === "expect-smtp");
  assert.deepEqual(e1.want, { kind: "code", pattern: "451" });
  assert.equal(e1.enhanced, "4.3.*");
  assert.deepEqual(e1.match?.parts, ["lookup"]);
  assert.ok(e2?.kind === "expect-smtp" && e2.want.kind === "code" && e2.want.pattern === "2xx");
  assert.ok(e3?.kind === "expect-smtp" && e3.want.kind === "any" && e3.enhanced === "5.7.1");
  assert.ok(cap?.kind === "expect-capability" && cap.op === ">=" && cap.value === 1000);
  assert.ok(auth?.kind === "auth" && auth.mechanism === "login");
  assert.ok(sm?.kind === "send-message" && sm.size === 65536 && sm.to.length === 1);
  assert.ok(sm2?.kind === "send-message" && sm2.body !== null);
  assert.ok(sleep?.kind === "sleep" && sleep.ms === 250);
  assert.ok(timeout?.kind === "timeout" && timeout.ms === 2000);
  assert.ok(rep?.kind === "repeat" && rep.count === 3 && rep.body.length === 1);
  assert.ok(conn?.kind === "connect" && conn.tls === "implicit" && conn.name === "s2");
  assert.ok(on?.kind === "on" && on.name === "s2");
  assert.ok(disc?.kind === "disconnect" && disc.name === "s2");
  assert.ok(monkey?.kind === "monkey");
  assert.deepEqual(monkey.args, ["fail", "queue.write", "once"]);
});

test("syntax errors name file:line:col, show the line with a caret and what was expected", () => {
  const src = `test-case {\n  writeln 42\n}\n`;
  assert.throws(
    () => parseScript(src, "bad.smtp"),
    (e: unknown) => {
      assert.ok(e instanceof ScriptError);
      assert.deepEqual(e.loc, { file: "bad.smtp", line: 2, column: 11 });
      assert.equal(e.reason, 'expected "$", string or word but found "4"');
      assert.equal(e.format(), `bad.smtp:2:11: error: expected "$", string or word but found "4"\n 2 |   writeln 42\n   |           ^`);
      return true;
    },
  );
});

test("an unknown statement says what could come instead", () => {
  assert.throws(
    () => parseScript("test-case {\n  expect smtp okay\n}", "k.smtp"),
    (e: unknown) => e instanceof ScriptError && e.loc.line === 2 && /expected .*"}"/.test(e.reason),
  );
  assert.throws(
    () => parseScript('test-case {\n  writeln "unterminated\n}', "u.smtp"),
    (e: unknown) => e instanceof ScriptError && e.loc.line === 2 && e.loc.column === 11 && /unterminated string/.test(e.reason),
  );
});

test("semantic errors are located too", () => {
  const cases: Array<[string, RegExp, number]> = [
    ["test-case {\n  call nope\n}", /call of undefined proc "nope"/, 2],
    ['proc a { writeln "x" }\nproc a { writeln "y" }', /proc "a" is already defined at main\.smtp:1/, 2],
    ['test-case {\n  writeln "${who}"\n}', /undefined variable \$\{who\}/, 2],
    ["proc a { call b }\nproc b { call a }\ntest-case { call a }", /calls itself: a -> b -> a/, 2],
    ['test-case name "t" { }\ntest-case name "t" { }', /test-case "t" is already defined/, 2],
    ['test-case {\n  expect smtp match "(("\n}', /invalid regular expression/, 2],
  ];
  for (const [src, re, line] of cases) {
    assert.throws(
      () => loadProgram("main.smtp", { readFile: files({ "main.smtp": src }) }),
      (e: unknown) => e instanceof ScriptError && re.test(e.reason) && e.loc.line === line,
      src,
    );
  }
});

test("-D names satisfy the variable check", () => {
  const p = loadProgram("main.smtp", { readFile: files({ "main.smtp": 'test-case { writeln "${who}" }' }), knownVariables: ["who"] });
  assert.equal(p.testCases.length, 1);
});

test("include resolves relative to the including file; errors point into the included file; cycles are caught", () => {
  const p = loadProgram("/s/main.smtp", {
    readFile: files({ "/s/main.smtp": 'include "lib/helo.smtp"\ntest-case { call helo }', "/s/lib/helo.smtp": 'proc helo { writeln "HELO x" }' }),
  });
  assert.ok(p.procs.has("helo"));
  assert.throws(
    () => loadProgram("/s/main.smtp", { readFile: files({ "/s/main.smtp": 'include "inc.smtp"', "/s/inc.smtp": "test-case {\n  bogus\n}" }) }),
    (e: unknown) => e instanceof ScriptError && e.loc.file === "/s/inc.smtp" && e.loc.line === 2,
  );
  assert.throws(
    () => loadProgram("/s/a.smtp", { readFile: files({ "/s/a.smtp": 'include "b.smtp"', "/s/b.smtp": 'include "a.smtp"' }) }),
    (e: unknown) => e instanceof ScriptError && /include cycle: a\.smtp -> b\.smtp -> a\.smtp/.test(e.reason),
  );
  assert.throws(
    () => loadProgram("/s/a.smtp", { readFile: files({ "/s/a.smtp": 'include "missing.smtp"' }) }),
    (e: unknown) => e instanceof ScriptError && /cannot read .*missing\.smtp: ENOENT/.test(e.reason) && e.loc.line === 1,
  );
});

test("property: the parser never throws anything but ScriptError", () => {
  const tokens = fc.constantFrom("test-case", "proc", "{", "}", '"x"', "writeln", "expect", "smtp", "ok", "call", "\n", " ", "#c\n", "\\", "${", "4.7.*", "250", "repeat", "3", "on", "s2", "random", "noop", "fail", "connect", "port", '"smtp"', "no-autoconnect", "skip", "'", "'y'", "$x", "x =", "%p", "\\\n", "repeat 2", "sleep", "500", "1h", "starttls", "upgrade-tls", "{}");
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.array(tokens, { maxLength: 30 }).map((t) => t.join(" "))), (src) => {
      try {
        parseScript(src, "fuzz.smtp");
      } catch (e) {
        assert.ok(e instanceof ScriptError, String(e));
        assert.ok(e.loc.line >= 1 && e.loc.column >= 1);
      }
    }),
    { numRuns: 2000 },
  );
});

test("property: printing a parsed script and parsing it again gives the same tree", async () => {
  const { scriptArbitrary } = await import("./arbitraries.js");
  fc.assert(
    fc.property(scriptArbitrary, (file) => {
      const text = printScript(file);
      const again = parseScript(text, "p.smtp");
      assert.deepEqual(stripLoc(again), stripLoc(file), text);
    }),
    { numRuns: 300 },
  );
});

function stripLoc(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripLoc);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).filter(([k]) => k !== "loc").map(([k, x]) => [k, stripLoc(x)]));
  }
  return v;
}

test("limits: nesting, call depth, repeat counts, durations and non-regular includes are located errors, not crashes", () => {
  const load = (src: string, more: Record<string, string> = {}) => loadProgram("main.smtp", { readFile: files({ "main.smtp": src, ...more }) });
  const located = (fn: () => unknown, re: RegExp, line?: number): void => {
    assert.throws(fn, (e: unknown) => e instanceof ScriptError && re.test(e.reason) && (line === undefined || e.loc.line === line));
  };
  // 5,000 nested blocks would overflow the parser's stack
  located(() => load("test-case {\n" + "repeat 1 { ".repeat(5000) + "}".repeat(5001)), /nested deeper than 64 levels/, 2);
  // the report shows the 55 KB line around the column only
  assert.throws(
    () => load("test-case {\n" + "repeat 1 { ".repeat(5000) + "}".repeat(5001)),
    (e: unknown) => e instanceof ScriptError && e.format().length < 600 && e.format().includes("...") && e.format().endsWith("^"),
  );
  // a 5,000-proc call chain
  const chain = Array.from({ length: 5000 }, (_, i) => `proc p${i} { ${i < 4999 ? `call p${i + 1}` : 'writeln "x"'} }`).join("\n");
  located(() => load(chain + "\ntest-case { call p0 }"), /more than 256 deep/);
  located(() => load("test-case {\n  repeat 99999999999999999999999 { writeln \"NOOP\" }\n}"), /repeat count .* over the limit of 1000000/, 2);
  located(() => load("test-case {\n  timeout 0\n}"), /timeout 0 would wait for ever/, 2);
  located(() => load("test-case {\n  sleep 999999999m\n}"), /longer than a timer can wait/, 2);
  // include of a device or a directory, read from the real file system
  located(() => loadProgram(join(tmp, "dev.smtp")), /cannot read \/dev\/zero: not a regular file/, 1);
  located(() => loadProgram("/dev/zero"), /not a regular file/);
  located(() => loadProgram(tmp), /not a regular file/);
});

test("a diamond of includes reads each file once: no self-conflict, linear time", () => {
  // level i includes both files of level i+1, which include the same last file: 2^22 paths
  const depth = 22;
  const map: Record<string, string> = { "/d/main.smtp": 'include "a0.smtp"\ninclude "b0.smtp"\ntest-case { call leaf }' };
  for (let i = 0; i < depth; i++) {
    const next = i + 1 < depth ? `include "a${i + 1}.smtp"\ninclude "b${i + 1}.smtp"` : 'include "leaf.smtp"';
    map[`/d/a${i}.smtp`] = next;
    map[`/d/b${i}.smtp`] = next;
  }
  map["/d/leaf.smtp"] = 'proc leaf { writeln "x" }';
  const t0 = performance.now();
  let reads = 0;
  const read = files(map);
  const p = loadProgram("/d/main.smtp", { readFile: (f) => (reads++, read(f)) });
  assert.ok(p.procs.has("leaf"));
  assert.equal(reads, 2 * depth + 2);
  assert.ok(performance.now() - t0 < 5000);
});

test("a diamond of calls is checked once per proc", () => {
  // each proc calls the next one twice: 2^40 call paths, 41 procs
  const procs = Array.from({ length: 41 }, (_, i) => `proc q${i} { ${i < 40 ? `call q${i + 1}\ncall q${i + 1}` : 'writeln "x"'} }`).join("\n");
  const p = loadProgram("main.smtp", { readFile: files({ "main.smtp": procs + "\ntest-case { call q0 }" }) });
  assert.equal(p.procs.size, 41);
});
