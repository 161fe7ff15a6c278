// The control API: `smtpchaos monkey serve` as a user runs it, driven by the CLI's client and by
// smtpscript's --monkey; and the API's answers to bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ControlApiError, ControlClient } from "../../monkey/control-client.js";
import { applyStatement, StatementError } from "../../monkey/controller.js";
import { main as smtpscript } from "../../smtpscript/cli.js";
import { composeTools } from "../../bin/compose.js";

// as bin/smtpscript does: smtpscript gets the monkey's control client for --monkey
composeTools();

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
  assert.match(api, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}$/, "the URL carries a 256-bit token");

  const client = new ControlClient(api);
  const points = await client.points();
  assert.ok(points.points.includes("queue.write"));
  assert.deepEqual(points.plan, []);

  // A bad plan is refused with every problem listed, and nothing changes.
  await assert.rejects(client.setPlan({ points: { "queue.write": { probability: 2 }, "lookup.x": {} } }), (err: unknown) => {
    return err instanceof ControlApiError && /probability/.test(err.message) && /needs a schedule/.test(err.message);
  });
  await assert.rejects(client.setPlan({ points: { "lookup.aliases": { always: true } } }), /no fault point lookup\.aliases/);
  assert.deepEqual((await client.points()).plan, []);

  const set = await client.setPlan("points:\n  queue.fsync:\n    every: 2\n    errno: ENOSPC\n");
  assert.deepEqual(set.plan, ["queue.fsync: error every 2 (ENOSPC)"]);
  await client.clearPlan();

  await refusals(api, client);

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
  const client = new ControlClient("http://127.0.0.1:9/?token=t");
  await assert.rejects(client.points(), (err: unknown) => err instanceof ControlApiError && /127\.0\.0\.1:9 unreachable: ECONNREFUSED/.test(err.message));
});

interface Raw {
  status: number;
  body: string;
}

/** A request as a browser page (or curl) could make it, headers as given. */
function raw(api: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Raw> {
  const u = new URL(api);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: Number(u.port), method, path, headers: { host: u.host, ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** What the control API refuses, and that a refused request changes nothing. */
async function refusals(api: string, client: ControlClient): Promise<void> {
  const token = new URL(api).searchParams.get("token") as string;
  const auth = { authorization: `Bearer ${token}` };
  const json = { ...auth, "content-type": "application/json" };
  const statement = JSON.stringify({ args: ["fail", "queue.write", "always"] });

  assert.equal((await raw(api, "GET", "/v1/points", {})).status, 401, "no token");
  assert.equal((await raw(api, "GET", "/v1/points", { authorization: `Bearer ${token.startsWith("x") ? "y" : "x"}${token.slice(1)}` })).status, 401, "wrong token");
  assert.equal((await raw(api, "POST", "/v1/script", { "content-type": "application/json" }, statement)).status, 401);
  assert.equal((await raw(api, "GET", "/v1/points", { ...auth, host: "evil.example.com" })).status, 403, "DNS rebinding");
  assert.equal((await raw(api, "GET", "/v1/points", { ...auth, host: `evil.example.com:${new URL(api).port}` })).status, 403);
  assert.equal((await raw(api, "POST", "/v1/script", { ...json, origin: "http://localhost:25080" }, statement)).status, 403, "cross origin");
  assert.equal((await raw(api, "GET", "/v1/points", { ...auth, origin: "null" })).status, 403);
  // the page: a text/plain POST (no CORS preflight)
  const plain = await raw(api, "POST", "/v1/script", { ...auth, "content-type": "text/plain" }, statement);
  assert.equal(plain.status, 415, plain.body);
  assert.equal((await raw(api, "PUT", "/v1/plan", { ...auth, "content-type": "text/plain" }, "points: {}")).status, 415);
  assert.equal((await raw(api, "POST", "/v1/script", auth, statement)).status, 415, "no content type");
  for (const body of ["", "null", "  ", "[]", "3"]) {
    const r = await raw(api, "POST", "/v1/script", json, body);
    assert.equal(r.status, 400, `script body ${JSON.stringify(body)}: ${r.body}`);
    assert.equal((await raw(api, "PUT", "/v1/plan", json, body)).status, 400, `plan body ${JSON.stringify(body)}`);
  }
  assert.deepEqual((await client.points()).plan, [], "nothing refused took effect");

  // The embedded target runs inside the monkey's process: no process of its own to kill.
  await assert.rejects(client.statement(["fail", "kill.init", "always"]), (err: unknown) => err instanceof ControlApiError && /kill\.init refused/.test(err.message) && /HTTP 400/.test(err.message));
  await assert.rejects(client.setPlan({ points: { "kill.smtpd": { always: true } } }), /kill\.smtpd refused.*HTTP 400/);
  assert.deepEqual((await client.points()).plan, []);

  // What is accepted: the same origin, the token as a query parameter (curl), YAML for a plan.
  const own = await raw(api, "GET", "/v1/points", { ...auth, origin: new URL(api).origin });
  assert.equal(own.status, 200, own.body);
  assert.equal((await raw(api, "GET", `/v1/points?token=${token}`, {})).status, 200);
  const yaml = await raw(api, "PUT", "/v1/plan", { ...auth, "content-type": "application/yaml" }, "points: {}\n");
  assert.equal(yaml.status, 200, yaml.body);
}

test("control client: a URL without its token is refused before any request", () => {
  assert.throws(() => new ControlClient("http://127.0.0.1:9/"), (err: unknown) => err instanceof ControlApiError && /no token/.test(err.message));
  assert.throws(() => new ControlClient("notaurl"), (err: unknown) => err instanceof ControlApiError && /not a URL/.test(err.message));
});
