// The control API: `smtpchaos monkey serve` as a user runs it, driven by the CLI's client and by
// smtpscript's --monkey; and the API's answers to bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ControlApiError, ControlClient } from "../../monkey/control-client.js";
import { applyStatement, StatementError } from "../../monkey/controller.js";
import { main as smtpscript } from "../../smtpscript/cli.js";

const CLI = fileURLToPath(new URL("../../bin/smtpchaos.js", import.meta.url));
const SCRIPT = fileURLToPath(new URL("../../../test/monkey/scripts/api.smtp", import.meta.url));

test("monkey statements become plan changes", () => {
  const d1 = applyStatement({ points: {} }, ["fail", "queue.write", "times", "3"]);
  assert.deepEqual(d1.points["queue.write"], { always: true, limit: 3 });
  const d2 = applyStatement(d1, ["fail", "lookup.recipients"]);
  assert.deepEqual(d2.points["lookup.recipients"], { action: "tempfail", once: true });
  const d3 = applyStatement(d2, ["delay", "queue.fsync", "200ms", "always"]);
  assert.deepEqual(d3.points["queue.fsync"], { action: "delay", latency: "200ms", always: true });
  assert.deepEqual(Object.keys(applyStatement(d3, ["clear", "queue.write"]).points), ["lookup.recipients", "queue.fsync"]);
  assert.deepEqual(applyStatement(d3, ["clear"]).points, {});
  assert.throws(() => applyStatement(d3, ["explode", "x"]), StatementError);
  assert.throws(() => applyStatement(d3, ["fail", "queue.write", "sometimes"]), /once, always or "times N"/);
});

test("monkey serve: control API and smtpscript --monkey against the embedded target", async (t) => {
  const child = spawn(process.execPath, [CLI, "monkey", "serve", "--target", "embedded", "--seed", "3"], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const lines = createInterface({ input: child.stdout });
  let api = "";
  let host = "";
  let port = "";
  for await (const line of lines) {
    const s = /serving embedded on ([\d.]+):(\d+)/.exec(line);
    if (s !== null) [, host, port] = s as unknown as [string, string, string];
    const a = /control API: (http:\/\/\S+)/.exec(line);
    if (a !== null) {
      api = a[1] as string;
      break;
    }
  }
  assert.ok(api !== "" && port !== "", `serve printed its endpoints; stderr: ${stderr}`);

  const client = new ControlClient(api);
  const points = await client.points();
  assert.ok(points.points.includes("queue.write"));
  assert.deepEqual(points.plan, []);

  // A bad plan is refused with every problem listed, and nothing changes.
  await assert.rejects(client.setPlan({ points: { "queue.write": { probability: 2 }, "lookup.x": {} } }), (err: unknown) => {
    return err instanceof ControlApiError && /probability/.test(err.message) && /needs a schedule/.test(err.message);
  });
  await assert.rejects(client.setPlan({ points: { "net.reset": { always: true } } }), /no fault point net\.reset/);
  assert.deepEqual((await client.points()).plan, []);

  const set = await client.setPlan("points:\n  queue.fsync:\n    every: 2\n    errno: ENOSPC\n");
  assert.deepEqual(set.plan, ["queue.fsync: error every 2 (ENOSPC)"]);
  await client.clearPlan();

  // The same statements a script would send, through smtpscript's --monkey.
  const code = await smtpscript(["--host", host, "--port", port, "--monkey", api, SCRIPT]);
  assert.equal(code, 0);
  const stats = (await client.stats()) as { points: Array<{ point: string; fired: number }> };
  assert.ok(Array.isArray(stats.points));

  child.kill("SIGINT");
  const [exitCode] = (await once(child, "exit")) as [number | null];
  assert.equal(exitCode, 0, stderr);
});

test("control client: an unreachable API is a clear error", async () => {
  const client = new ControlClient("http://127.0.0.1:9");
  await assert.rejects(client.points(), (err: unknown) => err instanceof ControlApiError && /127\.0\.0\.1:9 unreachable: ECONNREFUSED/.test(err.message));
});
