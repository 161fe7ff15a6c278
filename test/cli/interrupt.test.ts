// SIGTERM (CI cancelling a job) ends smtpscript and `suite run` as Ctrl-C does: the first signal
// lets the test-case in flight finish, then the partial report is written and the exit is 130;
// a second one drops the test-case in flight and still writes what completed.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import { runCli, SMTPCHAOS, SMTPSCRIPT } from "./spawn.js";
import { startRawServer } from "../smtp/raw-server.js";
import type { RawPeer } from "../smtp/raw-server.js";

const dir = mkdtempSync(join(tmpdir(), "smtpchaos-interrupt-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const FIVE = join(dir, "five.smtp");
writeFileSync(FIVE, [1, 2, 3, 4, 5].map((i) => `test-case name "t${i}" {\n  expect smtp ok\n}\n`).join(""));

/**
 * A server answering every command 250 (354 to DATA, 221 to QUIT), whose banner comes after
 * `bannerMs(n)` ms on its n-th connection (1-based), or never when that is null.
 */
async function server(bannerMs: (n: number) => number | null): Promise<{ port: number; close: () => Promise<void> }> {
  let n = 0;
  return startRawServer(async (peer: RawPeer) => {
    const delay = bannerMs(++n);
    if (delay === null) return;
    await new Promise((r) => setTimeout(r, delay));
    peer.send("220 test.example ESMTP\r\n");
    for (;;) {
      const { text } = await peer.line();
      const verb = text.split(" ")[0]?.toUpperCase();
      if (verb === "QUIT") {
        peer.send("221 bye\r\n");
        peer.socket.end();
        return;
      }
      if (verb === "DATA") {
        peer.send("354 go\r\n");
        while ((await peer.line()).text !== ".");
      }
      peer.send("250 ok\r\n");
    }
  });
}

interface Case {
  name: string;
  time?: number;
  failure?: unknown;
  error?: { message?: string };
}

function junitCases(file: string): Case[] {
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (name) => name === "testcase" || name === "testsuite" }).parse(readFileSync(file, "utf8")) as { testsuites: { testsuite: Array<{ testcase?: Case[] }> } };
  return doc.testsuites.testsuite.flatMap((s) => s.testcase ?? []);
}

/** Sends `sig` once `first` shows on stdout or stderr, again (when `again`) once the first signal's message shows; the time of the last. */
function signals(sig: NodeJS.Signals, first: RegExp, again: boolean): { onStdout: (text: string, kill: (s: NodeJS.Signals) => void) => void; lastAt: () => number } {
  let state = 0;
  let lastAt = 0;
  return {
    onStdout: (text, kill) => {
      if (state === 0 && first.test(text)) {
        state = 1;
        lastAt = Date.now();
        kill(sig);
      } else if (state === 1 && again && /interrupted; finishing the test-cases in flight/.test(text)) {
        state = 2;
        lastAt = Date.now();
        kill(sig);
      }
    },
    lastAt: () => lastAt,
  };
}

test("smtpscript: SIGTERM lets the test-case in flight finish, writes the partial report, exits 130", async () => {
  // the first test-case's banner comes at once, the others' after 1.5 s: the signal meets t2 in flight
  const srv = await server((n) => (n === 1 ? 0 : 1500));
  try {
    const junit = join(dir, "graceful.xml");
    const s = signals("SIGTERM", /"t1" ok/, false);
    const r = await runCli(SMTPSCRIPT, ["--port", String(srv.port), "--reporter", `junit=${junit}`, FIVE], { onStdout: s.onStdout });
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /smtpscript: interrupted; finishing the test-cases in flight, then reporting \(interrupt again to stop now\)/);
    const cases = junitCases(junit);
    assert.deepEqual(cases.map((c) => c.name), ["t1", "t2"], "t2 was in flight and finished; t3.. never started");
    assert.ok(cases.every((c) => c.failure === undefined && c.error === undefined), JSON.stringify(cases));
  } finally {
    await srv.close();
  }
});

test("smtpscript: a second SIGTERM drops the test-case in flight at once and still writes the report", async () => {
  // t2 waits for a banner that never comes, far longer than the test allows
  const srv = await server((n) => (n === 1 ? 0 : null));
  try {
    const junit = join(dir, "cut.xml");
    const s = signals("SIGTERM", /"t1" ok/, true);
    const r = await runCli(SMTPSCRIPT, ["--port", String(srv.port), "--timeout", "60s", "--reporter", `junit=${junit}`, FIVE], { onStdout: s.onStdout });
    const tookMs = Date.now() - s.lastAt();
    assert.equal(r.code, 130, r.stderr);
    assert.ok(tookMs < 2000, `exited ${tookMs} ms after the second signal`);
    assert.match(r.stderr, /smtpscript: interrupted again; dropping the test-cases in flight, reporting the ones that completed/);
    assert.deepEqual(junitCases(junit).map((c) => c.name), ["t1"]);
  } finally {
    await srv.close();
  }
});

/**
 * `suite run` against a server that answers at once until its first test-case is reported, then
 * never sends a banner again; SIGTERM 300 ms later, when the test-case in flight is one waiting for
 * its banner (the ones before it got theirs at once), and again at the first's message if `again`.
 */
async function interruptedSuite(junit: string, timeout: string, again: boolean): Promise<{ code: number | null; stderr: string; afterLastMs: number }> {
  let hang = false;
  const srv = await server(() => (hang ? null : 0));
  let lastAt = 0;
  try {
    const r = await runCli(SMTPCHAOS, ["suite", "run", "--port", String(srv.port), "--timeout", timeout, "--reporter", `junit=${junit}`], {
      onStdout: (text, kill) => {
        if (!hang && /====> \w+\//.test(text)) {
          hang = true;
          setTimeout(() => {
            lastAt = Date.now();
            kill("SIGTERM");
          }, 300);
        } else if (again && lastAt !== 0 && /interrupted; finishing the test-cases in flight/.test(text)) {
          again = false;
          lastAt = Date.now();
          kill("SIGTERM");
        }
      },
    });
    return { code: r.code, stderr: r.stderr, afterLastMs: Date.now() - lastAt };
  } finally {
    await srv.close();
  }
}

test("suite run: SIGTERM lets the test-case in flight finish, writes the partial report, exits 130", async () => {
  const junit = join(dir, "suite-graceful.xml");
  const r = await interruptedSuite(junit, "1500ms", false);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /smtpchaos suite: interrupted; finishing the test-cases in flight, then reporting \(interrupt again to stop now\)/);
  const cases = junitCases(junit);
  // the one in flight was let finish (its wait for the banner timed out) and reported; none started after it
  const waited = cases.filter((c) => /timed out after 1500 ms waiting for/.test(JSON.stringify(c)));
  assert.equal(waited.length, 1, JSON.stringify(cases.slice(-3)));
  assert.equal(cases.at(-1), waited[0], "it is the last reported");
});

test("suite run: a second SIGTERM drops the test-case in flight at once and still writes the report", async () => {
  const junit = join(dir, "suite-cut.xml");
  const r = await interruptedSuite(junit, "60s", true);
  assert.equal(r.code, 130, r.stderr);
  assert.ok(r.afterLastMs < 2000, `exited ${r.afterLastMs} ms after the second signal`);
  assert.match(r.stderr, /smtpchaos suite: interrupted again; dropping the test-cases in flight, reporting the ones that completed/);
  const cases = junitCases(junit);
  assert.ok(cases.length > 0, "what completed is reported");
  assert.doesNotMatch(JSON.stringify(cases), /timed out|interrupted|closed the connection/, "the test-case dropped is not reported");
});
