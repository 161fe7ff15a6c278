// Relays judged by delivery at the toolkit's own sink (`delivery: sink` in a target file, `--sink
// PORT` with --host): a toy relay written for the test (fixtures/relay/toy-relay.py) forwards to
// it. A correct relay has no findings; one that drops every Nth message after its 250 has exactly
// those counted lost. Also: helpers and {{ports.NAME}}, the listener check, and what a failed
// start says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RecordingSink } from "../../targets/sink/recording-sink.js";
import { maildirIds } from "../../targets/maildir/read.js";
import { createTarget } from "../../targets/registry.js";
import { TargetFileError } from "../../targets/file/spec.js";
import { loadTargetFile } from "../../targets/file/load.js";
import type { FileTarget } from "../../targets/file/target.js";
import { freePort } from "../../targets/process/free-port.js";
import { ipv6LoopbackAvailable } from "../../targets/process/ipv6.js";
import { buildMessage, PreparedMessage, runSmtpSession } from "../../smtp/index.js";
import { sendOne, waitFor } from "./helpers.js";
import { runCli as spawnCli, SMTPCHAOS } from "../cli/spawn.js";

const runCli = (args: string[]) => spawnCli(SMTPCHAOS, args);
const RELAY = fileURLToPath(new URL("../../../test/targets/fixtures/relay/toy-relay.py", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "smtpchaos-sink-test-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** A target file for the toy relay; `extra` lines are appended (YAML), `args` go to the relay. */
function relayFile(name: string, o: { args?: string[]; extra?: string; next?: string; host6?: boolean } = {}): string {
  const path = join(tmp, `${name}.target.yaml`);
  const args = [...(o.host6 === false ? [] : ['"--host6={{host6}}"']), "--next-port", `"${o.next ?? "{{sink.port}}"}"`, ...(o.args ?? []).map((a) => JSON.stringify(a))];
  writeFileSync(
    path,
    `summary: toy relay (test)
requires: [python3]
domain: test.example
mailboxes: [user]
directories: [queue, log]
start: [python3, ${JSON.stringify(RELAY)}, --port, "{{port}}", --dir, "{{dir}}", --log, "{{dir}}/log/relay.log", ${args.join(", ")}]
logs: [log/relay.log]
crash: ['Traceback', 'FATAL']
delivery: sink
queueSize: { command: [sh, -c, 'ls {{dir}}/queue | wc -l'], parse: count }
${o.extra ?? ""}
`,
  );
  return path;
}

test("the sink records every arrival into a Maildir with its Return-Path; a bounce is told apart; faults decide its replies", async (t) => {
  const dir = join(tmp, "unit");
  const sink = new RecordingSink({ maildir: join(dir, "Maildir") });
  await sink.start();
  t.after(() => sink.stop());
  const port = sink.address()?.port ?? 0;
  const m = buildMessage({ from: "a@client.smtpchaos.test", to: ["user@test.example"], body: "hi\r\n" });
  const send = (from: string, data: Buffer) =>
    runSmtpSession({ host: "127.0.0.1", port, timeoutMs: 3000, helo: "mta.test", transactions: 1, transaction: () => ({ from, to: ["x@anywhere.example"], message: () => new PreparedMessage(data) }) });
  assert.equal((await send("a@client.smtpchaos.test", m.data)).outcome, "ok");
  const dsn = Buffer.from(`From: MAILER-DAEMON@relay.test\r\nSubject: failure\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nAction: failed\r\n\r\n--b\r\nX-Smtpchaos-Id: ${m.id}\r\n--b--\r\n`);
  assert.equal((await send("", dsn)).outcome, "ok");
  const ids = await maildirIds([join(dir, "Maildir")]);
  assert.deepEqual(ids, { delivered: [m.id], bounced: [m.id] });
  assert.equal(sink.arrivals.get(m.id), 1);
  // faults: a decider that defers every RCPT
  sink.setFaults({ decide: (point) => (point === "nexthop.defer" ? { delayMs: 0 } : null) });
  assert.equal((await send("a@client.smtpchaos.test", m.data)).outcome, "tempfail");
  assert.equal(sink.stats.deferred, 1);
});

test("a target file's validation: sink placeholders need delivery: sink, delivery: sink needs {{sink.port}}, ports are declared, helpers are checked", () => {
  const bad = (name: string, body: string): string[] => {
    const p = join(tmp, `${name}.target.yaml`);
    writeFileSync(p, body);
    try {
      loadTargetFile(p);
    } catch (err) {
      assert.ok(err instanceof TargetFileError, String(err));
      return err.problems;
    }
    return [];
  };
  const base = "start: [x, '{{port}}']\n";
  assert.match(bad("p1", `${base}maildirs: [M]\nfiles: { a: '{{sink.port}}' }\n`).join("\n"), /\{\{sink\.port\}\} needs delivery: sink/);
  assert.match(bad("p2", `${base}delivery: sink\n`).join("\n"), /nothing in the file uses \{\{sink\.port\}\}/);
  assert.match(bad("p3", `${base}delivery: sideways\nmaildirs: [M]\n`).join("\n"), /delivery: expected "maildirs" or "sink"/);
  assert.match(bad("p4", `${base}maildirs: [M]\nfiles: { a: '{{ports.backend}}' }\n`).join("\n"), /\{\{ports\.backend\}\} is not declared/);
  const h = bad("p5", `${base}maildirs: [M]\nhelpers: { backend: { command: [], nope: 1 } }\n`).join("\n");
  assert.match(h, /helpers\.backend\.command: expected a command/);
  assert.match(h, /helpers\.backend\.nope: unknown field/);
  assert.match(bad("p6", `${base}`).join("\n"), /maildirs: required/);
  // a good one
  const ok = join(tmp, "ok.target.yaml");
  writeFileSync(ok, `start: [x, '{{port}}', '{{sink.port}}', '{{ports.backend}}']\ndelivery: sink\nports: [backend]\nhelpers: { backend: { command: [y, '{{ports.backend}}'], ready: '{{ports.backend}}' } }\n`);
  const spec = loadTargetFile(ok);
  assert.equal(spec.delivery, "sink");
  assert.deepEqual(spec.helpers, [{ name: "backend", command: ["y", "{{ports.backend}}"], env: {}, ready: "{{ports.backend}}" }]);
});

test("a correct relay under the monkey, judged at the sink: no findings, every accepted message delivered once", async () => {
  const file = relayFile("good");
  const out = join(tmp, "good.json");
  const r = await runCli(["monkey", "run", "--target", file, "--duration", "4s", "--concurrency", "4", "--seed", "7", "--json", out]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const rep = JSON.parse(readFileSync(out, "utf8")) as { verdict: string; ledger: { accepted: number; deliveredDistinct: number; lost: number; duplicates: number } };
  assert.equal(rep.verdict, "pass");
  assert.ok(rep.ledger.accepted > 20, `accepted ${rep.ledger.accepted}`);
  assert.equal(rep.ledger.deliveredDistinct, rep.ledger.accepted);
  assert.equal(rep.ledger.lost, 0);
  assert.equal(rep.ledger.duplicates, 0);
});

test("a relay that drops every 5th message after its 250: exactly those are counted lost", async () => {
  const dropLog = join(tmp, "dropped.txt");
  const file = relayFile("drop", { args: ["--drop-every", "5", "--drop-log", dropLog] });
  const out = join(tmp, "drop.json");
  const r = await runCli(["monkey", "run", "--target", file, "--duration", "4s", "--concurrency", "4", "--seed", "7", "--json", out]);
  assert.equal(r.code, 1, r.stderr + r.stdout);
  const rep = JSON.parse(readFileSync(out, "utf8")) as { verdict: string; ledger: { accepted: number; lost: number; samples: { lost: string[] } } };
  const dropped = new Set(readFileSync(dropLog, "utf8").trim().split("\n"));
  assert.equal(rep.verdict, "findings");
  assert.equal(dropped.size, Math.floor(rep.ledger.accepted / 5));
  assert.equal(rep.ledger.lost, dropped.size, "lost = dropped");
  assert.ok(rep.ledger.samples.lost.length > 0);
  for (const id of rep.ledger.samples.lost) assert.ok(dropped.has(id), `${id} was counted lost but the relay did not drop it`);
});

test("a relay the user runs (--host) with --sink PORT: the monkey runs the sink and judges by what arrives", async (t) => {
  const dir = mkdtempSync(join(tmp, "host-"));
  const [port, sinkPort] = [await freePort(), await freePort()];
  const relay = spawn("python3", [RELAY, "--port", String(port), "--next-port", String(sinkPort), "--dir", dir, "--log", join(dir, "relay.log")], { stdio: "ignore" });
  t.after(() => relay.kill("SIGKILL"));
  await waitFor("the relay's banner", async () => (await sendOne("127.0.0.1", port, "user@test.example").catch(() => null)) !== null);
  const out = join(tmp, "host.json");
  const r = await runCli(["monkey", "run", "--host", "127.0.0.1", "--port", String(port), "--rcpt", "user@test.example", "--sink", String(sinkPort), "--duration", "3s", "--concurrency", "2", "--no-restart", "--json", out]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const rep = JSON.parse(readFileSync(out, "utf8")) as { ledger: { accepted: number; deliveredDistinct: number; lost: number; foreign: number } };
  assert.ok(rep.ledger.accepted > 5);
  assert.equal(rep.ledger.lost, 0);
  assert.equal(rep.ledger.deliveredDistinct, rep.ledger.accepted, JSON.stringify(rep.ledger));
  // the banner probe's message, sent before the run, arrived at the sink too: not the run's
  assert.equal(rep.ledger.foreign, 1);
});

test("helpers and {{ports.NAME}}: a second relay as a set-up helper between the MTA and the sink; not a role; kept across a restart", async (t) => {
  const file = relayFile("chain", {
    next: "{{ports.backend}}",
    extra: `ports: [backend]
helpers:
  backend:
    command: [python3, ${JSON.stringify(RELAY)}, --port, "{{ports.backend}}", --next-port, "{{sink.port}}", --dir, "{{dir}}/backend", --log, "{{dir}}/log/backend.log"]
    ready: "{{ports.backend}}"
`,
  });
  const target = createTarget(file) as FileTarget;
  t.after(() => target.stop());
  await target.start();
  const helpers = target.helperProcesses();
  assert.deepEqual(helpers.map((h) => h.name), ["backend"]);
  const roles = await target.processes();
  assert.ok(!roles.some((p) => p.pid === helpers[0]?.pid), "a helper is never a role");
  const first = await sendOne("127.0.0.1", target.endpoint.port, "user@test.example");
  await waitFor("delivery through the helper to the sink", async () => (await target.deliveredIds()).delivered.includes(first.id));
  await target.restart();
  assert.equal(target.helperProcesses()[0]?.pid, helpers[0]?.pid, "the helper outlives the MTA's restart");
  const second = await sendOne("127.0.0.1", target.endpoint.port, "user@test.example");
  await waitFor("delivery after the restart", async () => (await target.deliveredIds()).delivered.includes(second.id));
  await target.stop();
  assert.deepEqual(target.helperProcesses(), []);
});

test("listeners: an MTA that does not listen on ::1 is refused with the missing listener named, and runs with ipv6: false", async (t) => {
  if (!(await ipv6LoopbackAvailable())) assert.fail("this test needs IPv6 loopback (::1)");
  const v4only = createTarget(relayFile("v4only", { host6: false }));
  t.after(() => v4only.stop());
  await assert.rejects(v4only.start(), (err: Error) => /does not listen on \[::1\]:\d+/.test(err.message) && /ipv6: false/.test(err.message));
  const declared = createTarget(relayFile("v4declared", { host6: false, extra: "ipv6: false" }));
  t.after(() => declared.stop());
  await declared.start();
  assert.equal(declared.endpoint.host6, undefined);
});

test("a failed start says the MTA's exit status and the tail of its declared log; a crash pattern during start fails it at once", async (t) => {
  const failing = createTarget(relayFile("fails", { args: ["--fail-start", "config error: /etc/toy.conf: no such file"] }));
  t.after(() => failing.stop());
  await assert.rejects(failing.start(), (err: Error) => /exit code 3/.test(err.message) && /relay\.log \(last 1 lines\):\n {2}config error: \/etc\/toy\.conf: no such file/.test(err.message));
  const fatal = createTarget(relayFile("fatal", { args: ["--fatal-start", "FATAL worker 1 died: missing config"] }));
  t.after(() => fatal.stop());
  const started = Date.now();
  await assert.rejects(fatal.start(), (err: Error) => /log: FATAL worker 1 died/.test(err.message));
  assert.ok(Date.now() - started < 15_000, "failed before the 20 s start timeout");
});

test("nexthop.* faults planned on a sink target apply to its sink: the relay retries, and every accepted message arrives exactly once", async () => {
  const plan = join(tmp, "hop-plan.yaml");
  writeFileSync(plan, "windows:\n  heal: 3s\npoints:\n  nexthop.defer: { probability: 0.3 }\n  nexthop.disconnect: { probability: 0.1 }\n  nexthop.lose-250: { probability: 0.1 }\n");
  const out = join(tmp, "hop.json");
  const r = await runCli(["monkey", "run", "--target", relayFile("hop"), "--plan", plan, "--duration", "7s", "--concurrency", "4", "--seed", "3", "--json", out]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const rep = JSON.parse(readFileSync(out, "utf8")) as { ledger: { accepted: number; deliveredDistinct: number; lost: number; duplicates: number }; layers: { nexthop?: { stats: { deferred: number; lost250: number }; resentAfterLost250: number } } };
  const hop = rep.layers.nexthop;
  assert.ok(hop !== undefined && hop.stats.deferred > 0 && hop.stats.lost250 > 0, JSON.stringify(rep.layers));
  assert.equal(hop.resentAfterLost250, hop.stats.lost250, "each lost 250 was resent once");
  assert.equal(rep.ledger.deliveredDistinct, rep.ledger.accepted);
  assert.equal(rep.ledger.lost + rep.ledger.duplicates, 0);
});

test("suite run --host --sink PORT: 'expect delivered' reads what arrives at the sink (the toy relay passes smuggled messages on)", async (t) => {
  const dir = mkdtempSync(join(tmp, "suite-"));
  const [port, sinkPort] = [await freePort(), await freePort()];
  const relay = spawn("python3", [RELAY, "--port", String(port), "--next-port", String(sinkPort), "--dir", dir, "--log", join(dir, "relay.log")], { stdio: "ignore" });
  t.after(() => relay.kill("SIGKILL"));
  await waitFor("the relay's banner", async () => (await sendOne("127.0.0.1", port, "user@test.example").catch(() => null)) !== null);
  const r = await runCli(["suite", "run", "smuggling", "--host", "127.0.0.1", "--port", String(port), "--sink", String(sinkPort)]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  // without a sink these test-cases are skipped; through it, the smuggled message is found delivered
  assert.match(r.stdout, /smuggling\.lf-dot-lf FAILED\n.*expected 0 delivered message\(s\) with a header matching \/\^X-Smtpchaos-Smuggled: \w+\$\/, found 1/);
  const without = await runCli(["suite", "run", "smuggling", "--host", "127.0.0.1", "--port", String(port)]);
  assert.match(without.stdout, /smuggling\.lf-dot-lf skipped/);
});

test("--sink on a port that is taken: one line naming it, exit 2, no stack trace, no temporary directory left (monkey and suite)", async (t) => {
  const busy = new RecordingSink();
  await busy.start();
  t.after(() => busy.stop());
  const taken = String(busy.address()?.port);
  const before = readdirSync(tmpdir()).filter((n) => n.startsWith("smtpchaos-sink-")).length;
  const m = await runCli(["monkey", "run", "--host", "127.0.0.1", "--port", taken, "--rcpt", "user@test.example", "--sink", taken, "--duration", "2s"]);
  assert.equal(m.code, 2, m.stderr);
  assert.match(m.stderr, new RegExp(`smtpchaos monkey run: the sink cannot listen on 127\\.0\\.0\\.1:${taken}: .*EADDRINUSE`));
  assert.doesNotMatch(m.stderr, /\n\s+at /);
  const s = await runCli(["suite", "run", "smuggling", "--host", "127.0.0.1", "--port", taken, "--sink", taken]);
  assert.equal(s.code, 2, s.stderr);
  assert.match(s.stderr, new RegExp(`--sink ${taken}: the sink cannot listen on 127\\.0\\.0\\.1:${taken}`));
  assert.equal(readdirSync(tmpdir()).filter((n) => n.startsWith("smtpchaos-sink-")).length, before);
});
