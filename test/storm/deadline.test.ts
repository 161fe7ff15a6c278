// Every storm ends: a session whose client never returns is cut at its hard deadline and counted
// "overdue"; a second interrupt stops the run at once (partial report still written); a closed
// port is recognized after a few refusals instead of flooded; sessions of the well-behaved
// client count as connected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMTPCHAOS } from "../cli/spawn.js";
import { startFixture } from "./fixture-server.js";
import { freePort } from "../../targets/process/free-port.js";
import { runStorm } from "../../storm/scheduler.js";
import { validateMix } from "../../storm/plan.js";
import * as kinds from "../../storm/kinds/all.js";
import type { StormJson } from "../../storm/report.js";

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  ms: number;
  /** the child was still running at the test's own limit and was killed */
  hung: boolean;
}

/** The CLI, killed (and reported as hung) if it outlives `limitMs`; `onErr` sees stderr as it grows (and every 50 ms). */
function storm(args: string[], limitMs: number, onErr?: (text: string, signal: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [SMTPCHAOS, "storm", ...args]);
    let stderr = "";
    let hung = false;
    const limit = setTimeout(() => {
      hung = true;
      child.kill("SIGKILL");
    }, limitMs);
    const poll = onErr === undefined ? undefined : setInterval(() => onErr(stderr, (s) => child.kill(s)), 50);
    child.stdout.resume();
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      onErr?.(stderr, (s) => child.kill(s));
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(limit);
      clearInterval(poll);
      resolve({ code, signal, stderr, ms: performance.now() - t0, hung });
    });
  });
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-deadline-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const read = (f: string): StormJson => JSON.parse(readFileSync(f, "utf8")) as StormJson;

test("well-behaved sessions whose connection is refused end, and the run says unreachable (exit 2)", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const closed = await freePort();
  const r = await storm(["--host", "127.0.0.1", "--port", String(fx.port), "--tls-port", String(closed), "--implicit-tls", "1", "--weight", "wellbehaved=1", "--sessions", "3", "--duration", "2s", "--timeout", "2s"], 15_000);
  assert.equal(r.hung, false, `the storm hung: ${r.stderr}`);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${closed} \\(implicit TLS\\) unreachable: connection refused`));
});

test("a session whose client never returns is cut at the end of the duration plus its timeout and counted overdue", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const real = kinds.wellbehaved.run;
  let closedByStorm = 0;
  // a client library that never calls back, but can be told to close
  kinds.wellbehaved.run = (ctx) =>
    new Promise(() => {
      ctx.signal?.addEventListener("abort", () => closedByStorm++);
    });
  t.after(() => {
    kinds.wellbehaved.run = real;
  });
  const t0 = performance.now();
  const r = await runStorm({ target: { host: "127.0.0.1", port: fx.port, rcpt: "u@x", timeoutMs: 300 }, concurrency: 3, durationMs: 300, mix: validateMix({ weights: { wellbehaved: 1 } }), seed: 1 });
  const ms = performance.now() - t0;
  assert.ok(ms < 1500, `ended after ${ms.toFixed(0)} ms`);
  assert.equal(r.metrics.sessions, 3);
  assert.equal(r.metrics.count("overdue"), 3);
  assert.equal(r.metrics.ungraceful(), 3, "overdue is ungraceful: nobody saw the session end");
  assert.equal(r.metrics.inFlight, 0);
  assert.equal(closedByStorm, 3, "each client was told to close");
});

test("a second SIGINT or SIGTERM stops the run within 2 s, with the partial report written", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const dir = tempDir(t);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const json = join(dir, `${sig}.json`);
    let state = 0;
    let secondAt = 0;
    const r = await storm(["--port", String(fx.port), "--weight", "hold=1", "--hold", "30s", "--sessions", "4", "--duration", "20s", "--json", json], 20_000, (text, signal) => {
      if (state === 0 && fx.active >= 4) {
        state = 1;
        signal(sig);
      } else if (state === 1 && text.includes("letting in-flight sessions finish")) {
        state = 2;
        // the first signal left the holds to finish (30 s): the second must not wait for them
        setTimeout(() => {
          secondAt = performance.now();
          signal(sig);
        }, 300);
      }
    });
    assert.equal(r.hung, false, `${sig}: the storm hung: ${r.stderr}`);
    assert.equal(state, 2, `${sig}: ${r.stderr}`);
    const after = performance.now() - secondAt;
    assert.ok(after < 2000, `${sig}: exited ${after.toFixed(0)} ms after the second signal`);
    assert.equal(r.code, 130, r.stderr);
    const j = read(json);
    assert.equal(j.interrupted, true);
    assert.equal(j.outcomes.overdue, 4);
  }
});

test("a storm of only well-behaved sessions that delivered mail is reachable (exit 0)", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const r = await storm(["--port", String(fx.port), "--weight", "wellbehaved=1", "--sessions", "2", "--max-sessions", "6", "--duration", "5s"], 20_000);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /unreachable/);
  assert.equal(fx.accepted, 6);
});

test("a closed port is recognized after a few refusals, not flooded", async (t) => {
  const dir = tempDir(t);
  const closed = await freePort();
  const json = join(dir, "r.json");
  const r = await storm(["--port", String(closed), "--sessions", "20", "--duration", "2s", "--json", json], 15_000);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${closed} unreachable: connection refused: the first 10 sessions were all refused`));
  assert.ok(r.ms < 1500, `took ${r.ms.toFixed(0)} ms`);
  const j = read(json);
  assert.ok(j.sessions <= 40, `${j.sessions} connection attempts`);
});
