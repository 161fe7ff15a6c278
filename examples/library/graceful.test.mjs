// An MTA's own test suite using smtpchaos as a library (node:test). Here against the embedded
// target; give startTarget "postfix", "exim" or a target file, or runScript a { host, port }.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, runScript, allPassed } from "smtpchaos";

const mta = await startTarget("embedded");
after(() => mta.stop());

test("a failed queue write is a 4xx at the dot, never a 5xx, and nothing is delivered", async () => {
  const r = await runScript(
    {
      source: `
test-case name "write fault" {
  expect smtp ok
  writeln "EHLO tests.example"
  expect smtp helo
  monkey fail queue.write once
  send-message header "X-Case: \${uniq}"
  expect smtp tempfail
  expect delivered 0 header "^X-Case: \${uniq}$"
}`,
    },
    mta,
  );
  assert.ok(allPassed(r), JSON.stringify(r.results[0]?.failure));
});

test("unknown recipients are refused with 550", async () => {
  const r = await runScript({ source: `test-case {\n  expect smtp ok\n  writeln "HELO x"\n  expect smtp ok\n  writeln "MAIL FROM:<a@b.example>"\n  expect smtp ok\n  writeln "RCPT TO:<nobody@\${domain}>"\n  expect smtp 550\n}` }, mta);
  assert.ok(allPassed(r), JSON.stringify(r.results[0]?.failure));
});
