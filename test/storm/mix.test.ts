import { test } from "node:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import YAML from "yaml";
import assert from "node:assert/strict";
import { PlanStream, DEFAULT_MIX, SESSION_KINDS, validateMix, MixError } from "../../storm/plan.js";
import type { Mix } from "../../storm/plan.js";
import { runStorm } from "../../storm/scheduler.js";
import { startNamedTarget } from "../../targets/registry.js";
import { EmbeddedTarget } from "../../targets/embedded/target.js";
import { waitFor } from "../targets/helpers.js";
import { startFixture } from "./fixture-server.js";

const EVERY_KIND: Mix = validateMix({
  weights: Object.fromEntries(SESSION_KINDS.map((k) => [k, 1])),
  size: { min: 200, max: 4096 },
  rcpts: { min: 1, max: 2 },
  starttls: 0.3,
  implicitTls: 0.3,
  large: { min: "1M", max: "2M" },
  manyRcpts: { min: 5, max: 20 },
  hold: { min: "50ms", max: "200ms" },
  slowloris: { pauseMs: { min: 1, max: 5 }, chunk: { min: 4, max: 16 } },
});

test("mix files declare every kind and its distribution; plans replay and carry only their kind's fields", () => {
  const take = (seed: number) => {
    const s = new PlanStream(EVERY_KIND, seed, 100);
    return Array.from({ length: 400 }, () => s.next());
  };
  const plans = take(11);
  assert.deepEqual(plans, take(11));
  assert.deepEqual(new Set(plans.map((p) => p.kind)), new Set(SESSION_KINDS));
  for (const p of plans) {
    assert.equal(p.holdMs > 0, p.kind === "hold");
    assert.equal(p.pauseMs > 0 || p.chunk > 0, p.kind === "slowloris");
    if (p.kind === "large") assert.ok(p.size >= 1024 * 1024 && p.size <= 2 * 1024 * 1024, `large ${p.size}`);
    else assert.ok(p.size <= 4096);
    if (p.kind === "many-rcpts") assert.ok(p.rcpts >= 5 && p.rcpts <= 20);
    else assert.ok(p.rcpts <= 2);
    if (p.kind === "hold") assert.ok(p.holdMs >= 50 && p.holdMs <= 200);
  }
  const share = (f: (p: (typeof plans)[number]) => boolean): number => plans.filter(f).length / plans.length;
  assert.ok(Math.abs(share((p) => p.tls === "implicit") - 0.3) < 0.1, `implicit ${share((p) => p.tls === "implicit")}`);
  assert.equal(share((p) => p.family === 6), 0);
  const v6 = new PlanStream(validateMix({ ipv6: 0.5 }), 3, 100);
  const fam = Array.from({ length: 400 }, () => v6.next().family);
  const sixes = fam.filter((f) => f === 6).length;
  assert.ok(sixes > 120 && sixes < 280, `ipv6 share: ${sixes}/400`);
});

test("mix validation names the bad field", () => {
  assert.throws(() => validateMix({ large: { min: "lots" } }), /large\.min/);
  assert.throws(() => validateMix({ ipv6: 2 }), /ipv6 is a share/);
  assert.throws(() => validateMix({ nonsense: 1 }), MixError);
  assert.equal(validateMix({ large: { max: "10M" } }).large.max, 10 * 1024 * 1024);
  assert.equal(validateMix({ hold: { min: "2s", max: "5s" } }).hold.min, 2000);
  assert.deepEqual(validateMix({}).weights, DEFAULT_MIX.weights);
});

test("every kind against the embedded target: graceful, TLS both ways, large messages delivered whole", async (t) => {
  const started = await startNamedTarget("embedded");
  t.after(() => started.stop());
  const { host, port, tlsPort } = started.endpoint;
  assert.ok(tlsPort !== undefined, "the embedded target listens with implicit TLS");
  const r = await runStorm({
    target: { host, port, tlsPort, rcpt: started.mailboxes[0] as string, timeoutMs: 10_000 },
    concurrency: 12,
    durationMs: 2500,
    mix: EVERY_KIND,
    seed: 5,
  });
  const m = r.metrics;
  assert.equal(m.ungraceful(), 0, JSON.stringify(Object.fromEntries(m.outcomes)));
  // garbage gets a 5xx reply but the session carries on; nothing here is refused as a whole
  assert.equal(m.count("permfail"), 0, [...m.codes].join(" "));
  for (const k of SESSION_KINDS) assert.ok((m.kinds.get(k) ?? 0) > 0, `kind ${k} ran (${[...m.kinds].join(" ")})`);
  for (const tr of ["implicit-tls", "starttls", "plain", "ipv4"]) assert.ok((m.transports.get(tr) ?? 0) > 0, `transport ${tr}: ${[...m.transports].join(" ")}`);
  assert.ok((m.phases.get("handshake")?.count ?? 0) > 0, "well-behaved sessions timed their handshake");
  assert.ok((m.phases.get("session")?.count ?? 0) === m.sessions);
  assert.ok(m.maxHolding > 0);
  assert.ok([...m.enhanced.keys()].some((k) => k.startsWith("dot 2.")), `enhanced codes per phase: ${[...m.enhanced.keys()].join(" ")}`);
  await waitFor("queue drained", async () => (await started.target.queueSize()) === 0);
  const delivered = await started.target.delivered();
  assert.ok(delivered.length >= m.accepted, `${delivered.length} delivered < ${m.accepted} accepted`);
  const large = delivered.filter((d) => d.size >= 1024 * 1024);
  assert.ok(large.length >= 1 && large.length <= (m.kinds.get("large") ?? 0), `large delivered: ${large.length}`);
});

test("IPv6 sessions go to ::1 when the target has it, and are counted as unavailable when not", async (t) => {
  const fx = await startFixture({ ipv6: true });
  t.after(() => fx.close());
  const mix = validateMix({ weights: { basic: 1 }, ipv6: 0.5, size: { min: 100, max: 200 } });
  const r = await runStorm({ target: { host: "127.0.0.1", host6: "::1", port: fx.port, rcpt: "u@test.example", timeoutMs: 5000 }, concurrency: 4, durationMs: 5000, maxSessions: 40, mix, seed: 9 });
  assert.equal(r.metrics.count("ok"), 40);
  assert.ok(fx.sessions.v6 > 5 && fx.sessions.v4 > 5, JSON.stringify(fx.sessions));
  assert.equal(r.metrics.transports.get("ipv6"), fx.sessions.v6);
  const r4 = await runStorm({ target: { host: "127.0.0.1", port: fx.port, rcpt: "u@test.example", timeoutMs: 5000 }, concurrency: 4, durationMs: 5000, maxSessions: 20, mix, seed: 9 });
  assert.equal(r4.metrics.transports.get("ipv6") ?? 0, 0);
  assert.ok((r4.metrics.transports.get("ipv6-unavailable") ?? 0) > 0);
});

test("storm against the embedded target: the IPv6 share reaches its own ::1 listener, one MTA behind both families", async (t) => {
  const target = new EmbeddedTarget();
  t.after(() => target.stop());
  await target.start();
  const { host, host6, port } = target.endpoint;
  if (host6 === undefined) return t.skip("this machine has no IPv6 loopback (the target listens on 127.0.0.1 only)");
  const mix = validateMix({ weights: { basic: 1 }, ipv6: 0.3, size: { min: 100, max: 300 } });
  const r = await runStorm({ target: { host, host6, port, rcpt: target.mailboxes[0] as string, timeoutMs: 10_000 }, concurrency: 8, durationMs: 10_000, maxSessions: 60, mix, seed: 5 });
  assert.equal(r.metrics.count("ok"), 60, JSON.stringify(Object.fromEntries(r.metrics.outcomes)));
  const v6 = r.metrics.transports.get("ipv6") ?? 0;
  assert.ok(v6 > 5 && v6 < 40, `ipv6 sessions: ${v6}`);
  // what the MTA saw: each basic session delivers one message, stamped with the client address
  const delivered = await waitFor("all 60 delivered", async () => {
    const d = await target.delivered();
    return d.length === 60 ? d : null;
  });
  const from6 = delivered.filter((d) => /^Received: from \S+ \(\[::1\]\)/.test(d.data.toString())).length;
  assert.equal(from6, v6, "messages received over ::1 = sessions counted as ipv6");
});

test("smtpchaos storm --target embedded: the --ipv6 share connects over IPv6 without --host6", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "smtpchaos-storm6-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, "report.json");
  const res = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, ["dist/bin/smtpchaos.js", "storm", "--target", "embedded", "--sessions", "8", "--duration", "10s", "--max-sessions", "60", "--weight", "basic=1", "--ipv6", "0.3", "--seed", "5", "--json", json], (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number(err.code), out: stdout + stderr }),
    ),
  );
  assert.equal(res.code, 0, res.out);
  const report = JSON.parse(readFileSync(json, "utf8")) as { transports: Record<string, number>; outcomes: Record<string, number> };
  if (report.transports["ipv6-unavailable"] !== undefined) {
    // only where the machine has no ::1: then the CLI says the target listens on IPv4 only
    assert.match(res.out, /no IPv6 endpoint \(target "embedded" listens on IPv4 only here\)/);
    return t.skip("this machine has no IPv6 loopback");
  }
  assert.doesNotMatch(res.out, /no IPv6 endpoint/);
  assert.ok((report.transports.ipv6 ?? 0) > 5, JSON.stringify(report.transports));
  assert.equal(report.outcomes.ok, 60, JSON.stringify(report.outcomes));
});

test("hold sessions stay open together: the held count reaches the concurrency", async (t) => {
  const fx = await startFixture();
  t.after(() => fx.close());
  const mix = validateMix({ weights: { hold: 1 }, hold: { min: 400, max: 400 } });
  const r = await runStorm({ target: { host: "127.0.0.1", port: fx.port, rcpt: "u@test.example", timeoutMs: 5000 }, concurrency: 50, durationMs: 300, mix, seed: 1 });
  assert.equal(r.metrics.maxHolding, 50);
  assert.equal(r.metrics.count("ok"), r.metrics.sessions);
  assert.equal(r.metrics.accepted, 0);
});

test("the well-behaved client upgrades with STARTTLS and authenticates when the server offers AUTH and credentials are given", async (t) => {
  const target = new EmbeddedTarget({ auth: { user: "alice", password: "s3cret" } });
  t.after(() => target.stop());
  await target.start();
  const mix = validateMix({ weights: { wellbehaved: 1 }, size: { min: 200, max: 500 }, rcpts: { min: 1, max: 3 } });
  const base = { host: "127.0.0.1", port: target.endpoint.port, rcpt: "user@test.example", timeoutMs: 5000 };
  const r = await runStorm({ target: { ...base, auth: { user: "alice", pass: "s3cret" } }, concurrency: 3, durationMs: 5000, maxSessions: 9, mix, seed: 2 });
  assert.equal(r.metrics.count("ok"), 9, JSON.stringify(Object.fromEntries(r.metrics.outcomes)));
  assert.equal(r.metrics.transports.get("starttls"), 9);
  assert.equal(r.metrics.transports.get("auth"), 9);
  assert.equal(r.metrics.accepted, 9);
  assert.ok((r.metrics.enhanced.get("dot 2.0.0") ?? 0) > 0, [...r.metrics.enhanced.keys()].join(" "));
  // wrong credentials: a graceful 535, counted as a permanent failure, never a crash of the storm
  const bad = await runStorm({ target: { ...base, auth: { user: "alice", pass: "wrong" } }, concurrency: 1, durationMs: 5000, maxSessions: 2, mix, seed: 2 });
  assert.equal(bad.metrics.count("permfail"), 2);
  // no credentials: AUTH is skipped and the server takes the mail (authOptional)
  const none = await runStorm({ target: base, concurrency: 1, durationMs: 5000, maxSessions: 2, mix, seed: 2 });
  assert.equal(none.metrics.count("ok"), 2);
  assert.equal(none.metrics.transports.get("auth") ?? 0, 0);
});

test("the shipped example mix validates and keeps its declared values", () => {
  const mix = validateMix(YAML.parse(readFileSync(new URL("../../../storm/examples/mix.yaml", import.meta.url), "utf8")));
  assert.equal(mix.weights.wellbehaved, 15);
  assert.equal(mix.size.max, 64 * 1024);
  assert.equal(mix.large.max, 20 * 1024 * 1024);
  assert.equal(mix.slowloris.pauseMs.min, 10);
  assert.equal(mix.implicitTls, 0.1);
});

test("the shipped throughput mix reuses each connection for 200 pipelined 1 KB messages", () => {
  const mix = validateMix(YAML.parse(readFileSync(new URL("../../../storm/examples/throughput.yaml", import.meta.url), "utf8")));
  assert.deepEqual(mix.weights, { pipelined: 1 });
  assert.deepEqual(mix.transactions, { min: 200, max: 200 });
  assert.deepEqual(mix.size, { min: 1024, max: 1024 });
  const plan = new PlanStream(mix, 1, 10).next();
  assert.equal(plan.transactions, 200);
  assert.equal(plan.size, 1024);
});

test("a mix with several problems names them all at once, as plans and target files do", () => {
  assert.throws(
    () => validateMix({ weights: { basic: 1, nope: 1 }, ipv6: 2, size: { min: 5, max: 1 }, slowloris: { chunk: { min: 0, max: 1 } } }),
    (e: unknown) => {
      assert.ok(e instanceof MixError);
      const m = (e as Error).message;
      assert.match(m, /^mix: 4 problems:\n/);
      for (const what of [/unknown session kind "nope"/, /ipv6 is a share between 0 and 1/, /size needs 0 <= min <= max/, /slowloris\.chunk needs 1 <= min <= max/]) assert.match(m, what);
      return true;
    },
  );
  assert.throws(() => validateMix({ ipv6: 2 }), (e: unknown) => e instanceof MixError && (e as Error).message === "mix: ipv6 is a share between 0 and 1");
});
