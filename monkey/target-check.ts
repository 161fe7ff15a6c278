// `smtpchaos target check FILE [--start]`: a target file checked the way a new user needs it.
// Without --start nothing runs: the file is validated (every problem at once) and its programs
// looked up. With --start the MTA is started once with every fault mechanism the file allows,
// one message goes through it, and a table says what matched and what did not: each role (by
// PID), each log, the delivery (Maildir or sink), the listeners, the queue commands, and how far
// libfiu, the lookups and the syscall mechanism reach. It lives with the monkey because the
// reach is the monkey's wiring; `target check` is routed here by the umbrella CLI.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import Table from "cli-table3";
import { EXIT } from "../common/exit-codes.js";
import { parseCli, parseDurationFlag } from "../common/args.js";
import { visible } from "../common/visible.js";
import { loadTargetFile } from "../targets/file/load.js";
import { TargetFileError, type TargetFileSpec } from "../targets/file/spec.js";
import { FileTarget } from "../targets/file/target.js";
import { deliveredIdsOf } from "../targets/target.js";
import { hasListener } from "../targets/process/procfs.js";
import { buildMessage, PreparedMessage, runSmtpSession } from "../smtp/index.js";
import { createFaultableTarget } from "./targets.js";
import { Injector } from "./injector.js";
import { validatePlan } from "./plan.js";

const USAGE = `usage: smtpchaos target check FILE|NAME [--start] [--timeout D]

  Validates a target file without starting anything: every problem at once, with its field.
  --start       also start it once, send one message through it, and report as a table:
                each role matched (by PID), each log found, the delivery (Maildir or sink),
                the listeners, the queue commands, and the reach of libfiu, the lookups and
                the syscall mechanism; then stop it
  --keep        with --start: keep the instance directory and print its path
  --timeout D   how long the test message may take to be delivered (default 30s)

exit codes: 0 all good, 1 something did not match (the table says what), 2 the file is invalid
or the MTA cannot start here`;

/** ok; warn: said, not a failure (a role that runs only at times may not have run); fail */
type Verdict = "ok" | "WARN" | "FAIL";
type Row = [check: string, result: string, verdict: Verdict];
const pass = (ok: boolean): Verdict => (ok ? "ok" : "FAIL");

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCli({ args: argv, allowPositionals: true, options: { start: { type: "boolean" }, keep: { type: "boolean" }, timeout: { type: "string", default: "30s" }, help: { type: "boolean", short: "h" } } });
  } catch (err) {
    console.error(`smtpchaos target check: ${(err as Error).message}`);
    return EXIT.usage;
  }
  if (parsed.values.help === true) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const [ref, ...extra] = parsed.positionals;
  if (ref === undefined || extra.length > 0) {
    console.error(USAGE);
    return EXIT.usage;
  }
  let spec: TargetFileSpec;
  try {
    spec = loadTargetFile(ref);
  } catch (err) {
    if (!(err instanceof TargetFileError)) throw err;
    console.error(`smtpchaos target check: ${err.message}`);
    return EXIT.usage;
  }
  let timeoutMs: number;
  try {
    timeoutMs = parseDurationFlag(parsed.values.timeout ?? "30s", "--timeout");
  } catch (err) {
    console.error(`smtpchaos target check: ${(err as Error).message}`);
    return EXIT.usage;
  }
  const unavailable = new FileTarget(spec).unavailable();
  console.log(`${spec.path}: valid target file "${spec.name}" (${spec.summary})`);
  console.log(summary(spec));
  if (unavailable !== null) {
    console.log(`cannot start here: ${unavailable}`);
    return parsed.values.start === true ? EXIT.usage : EXIT.ok;
  }
  if (parsed.values.start !== true) return EXIT.ok;
  return startCheck(spec, timeoutMs, parsed.values.keep === true);
}

function summary(s: TargetFileSpec): string {
  const lines = [
    `  delivery:   ${s.delivery === "sink" ? "at the toolkit's sink ({{sink.host}}:{{sink.port}})" : `Maildirs ${s.maildirs.join(", ")}`}`,
    `  roles:      ${[`${s.master} (the start command)`, ...Object.keys(s.roles)].join(", ")}`,
    `  logs:       ${s.logs.length > 0 ? s.logs.join(", ") : "(stdout/stderr only)"}${s.syslog ? " + syslog (its own /dev/log)" : ""}`,
    `  queue:      ${s.queueSize !== null ? "size" : "not observable (no queueSize)"}${s.queueList !== null ? ", ids" : ""}${s.flush !== null ? ", flush" : ""}`,
    `  listeners:  127.0.0.1${s.ipv6 ? " and ::1" : " only (ipv6: false)"}${s.implicitTls ? ", plus implicit TLS" : ""}`,
    `  faults:     libfiu ${s.libfiu.length > 0 ? s.libfiu.join(", ") : "no"}; lookups ${s.lookups ? "routed" : "no"}; syscalls ${s.syscalls ? "yes" : "no"}`,
  ];
  if (s.helpers.length > 0) lines.push(`  helpers:    ${s.helpers.map((h) => h.name).join(", ")}`);
  return lines.join("\n");
}

async function startCheck(spec: TargetFileSpec, timeoutMs: number, keep: boolean): Promise<number> {
  const f = createFaultableTarget(spec.path, { mayFire: ["*"], ...(keep ? { keep: true } : {}) });
  const target = f.target as FileTarget;
  const rows: Row[] = [];
  const injector = new Injector({ plan: validatePlan({ points: {} }), seed: 1 });
  try {
    try {
      await target.start();
    } catch (err) {
      console.log(`start: FAILED\n${(err as Error).message}`);
      return EXIT.failures;
    }
    const surface = f.surface();
    await surface?.apply(injector);
    const asked = new Map<string, number>();
    const offDecide = injector.onDecide((point) => void asked.set(point, (asked.get(point) ?? 0) + 1));
    const stopProfile = surface?.profile?.() ?? null;
    const ep = target.endpoint;
    const status = await target.status();
    rows.push(["banner", status.banner?.ok === true ? status.banner.line : `none: ${status.banner?.reason ?? "?"}`, pass(status.banner?.ok === true)]);
    rows.push(["listener 127.0.0.1", String(ep.port), "ok"]);
    if (spec.ipv6) rows.push(["listener [::1]", ep.host6 !== undefined ? String(ep.port) : "this machine has no IPv6 loopback", "ok"]);
    if (ep.tlsPort !== undefined) rows.push(["listener implicit TLS", String(ep.tlsPort), pass(hasListener(ep.tlsPort))]);
    for (const h of target.helperProcesses()) rows.push([`helper ${h.name}`, `pid ${h.pid}, log ${h.log}`, "ok"]);
    const sink = target.sinkAddress();
    if (sink !== null) rows.push(["sink", `${sink.host}:${sink.port}`, "ok"]);

    // roles are sampled while the message goes through: per-connection and delivery processes live only then
    const seen = new Map<string, Set<number>>();
    const sample = async (): Promise<void> => {
      for (const p of await target.processes()) seen.set(p.role, (seen.get(p.role) ?? new Set()).add(p.pid));
    };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await sample();
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    rows.push(...(await deliveryRows(target, spec, timeoutMs)));
    sampling = false;
    await sampler;
    const profiled = stopProfile?.() ?? null;
    offDecide();
    rows.push(...roleRows(spec, seen, profiled));
    rows.push(...logRows(target, spec));
    rows.push(...(await queueRows(target, spec)));
    rows.push(...reachRows(target, spec, asked, profiled));
  } finally {
    await f.close();
    const kept = keep ? target.keepFiles() : null;
    await target.stop();
    if (kept !== null) console.log(`instance directory kept: ${kept}`);
  }
  const t = new Table({ head: ["check", "result", ""], style: { head: [], border: [], compact: true }, wordWrap: true, colWidths: [24, 90, 6] });
  for (const [check, result, verdict] of rows) t.push([check, visible(result), verdict]);
  console.log(t.toString());
  const failed = rows.filter((r) => r[2] === "FAIL");
  const warned = rows.filter((r) => r[2] === "WARN");
  const warnText = warned.length > 0 ? `; ${warned.length} warning(s): ${warned.map((r) => r[0]).join(", ")}` : "";
  console.log(failed.length === 0 ? `${spec.name}: every check passed${warnText}` : `${spec.name}: ${failed.length} check(s) failed: ${failed.map((r) => r[0]).join(", ")}${warnText}`);
  return failed.length === 0 ? EXIT.ok : EXIT.failures;
}

async function deliveryRows(target: FileTarget, spec: TargetFileSpec, timeoutMs: number): Promise<Row[]> {
  const to = target.mailboxes[0] as string;
  const m = buildMessage({ from: "check@client.smtpchaos.test", to: [to], body: "smtpchaos target check\r\n" });
  const sent = Date.now();
  const r = await runSmtpSession({ host: target.endpoint.host, port: target.endpoint.port, timeoutMs: 10_000, helo: "check.smtpchaos.test", transactions: 1, transaction: () => ({ from: "check@client.smtpchaos.test", to: [to], message: () => new PreparedMessage(m.data) }) });
  if (r.outcome !== "ok") return [["test message", `to ${to}: not accepted (${r.outcome})`, "FAIL"]];
  const where = spec.delivery === "sink" ? "at the sink" : `in ${spec.maildirs.join(", ")}`;
  const deadline = sent + timeoutMs;
  let flushed = false;
  while (Date.now() < deadline) {
    const got = await deliveredIdsOf(target);
    if (got.delivered.includes(m.id)) return [["test message", `to ${to}: accepted, delivered ${where} in ${Date.now() - sent} ms`, "ok"]];
    // a queue that waits for its next run is flushed once
    if (!flushed && Date.now() - sent > 2000) {
      flushed = true;
      await target.flushQueue().catch(() => {});
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  return [["test message", `to ${to}: accepted but not delivered ${where} within ${timeoutMs / 1000} s`, "FAIL"]];
}

function roleRows(spec: TargetFileSpec, seen: ReadonlyMap<string, ReadonlySet<number>>, profiled: { calls: Array<{ point: string }> } | null): Row[] {
  const out: Row[] = [];
  const trapped = new Set((profiled?.calls ?? []).map((c) => /^sys\.([^.]+)\./.exec(c.point)?.[1]));
  for (const role of [spec.master, ...Object.keys(spec.roles)]) {
    const pids = [...(seen.get(role) ?? [])];
    const pattern = role === spec.master ? "the start command" : `/${spec.roles[role] ?? ""}/`;
    if (pids.length > 0) out.push([`role ${role}`, `pid ${pids.slice(0, 8).join(" ")}${pids.length > 8 ? ` (+${pids.length - 8})` : ""}`, "ok"]);
    else if (trapped.has(role)) out.push([`role ${role}`, "seen by the syscall mechanism (a process too short-lived to sample)", "ok"]);
    else out.push([`role ${role}`, `matched no process while the test message went through (${pattern}): a role that runs only at times (a queue runner) may not have run; a wrong pattern never matches`, "WARN"]);
  }
  return out;
}

function logRows(target: FileTarget, spec: TargetFileSpec): Row[] {
  return target.logFiles().map((p, i) => {
    if (!existsSync(p)) return [`log ${spec.logs[i] ?? p}`, `${p} does not exist`, "FAIL"];
    return [`log ${spec.logs[i] ?? p}`, `${p}, ${statSync(p).size} bytes`, "ok"];
  });
}

async function queueRows(target: FileTarget, spec: TargetFileSpec): Promise<Row[]> {
  const out: Row[] = [];
  if (spec.queueSize === null) out.push(["queue size", "no queueSize command: the queue is not observable (the ledger waits for the mailboxes to settle)", "ok"]);
  else {
    try {
      out.push(["queue size", `${await target.queueSize()} queued`, "ok"]);
    } catch (err) {
      out.push(["queue size", (err as Error).message, "FAIL"]);
    }
  }
  if (spec.queueList !== null) {
    try {
      out.push(["queue ids", `${(await target.queueIds())?.length ?? 0} listed`, "ok"]);
    } catch (err) {
      out.push(["queue ids", (err as Error).message, "FAIL"]);
    }
  }
  return out;
}

function reachRows(target: FileTarget, spec: TargetFileSpec, asked: ReadonlyMap<string, number>, profiled: { calls: Array<{ point: string }> } | null): Row[] {
  const out: Row[] = [];
  if (spec.libfiu.length > 0) {
    const fiu = join(target.workDir, "fiu");
    const fifos = existsSync(fiu) ? readdirSync(fiu).filter((n) => /^ctl-\d+\.in$/.test(n)).length : 0;
    out.push(["libfiu", `${spec.libfiu.join(", ")}: ${fifos} process(es) with a control FIFO`, pass(fifos > 0)]);
  }
  if (spec.lookups) {
    const lookups = [...asked].filter(([p]) => p.startsWith("lookup."));
    out.push(["lookups", lookups.length > 0 ? lookups.map(([p, n]) => `${p} x${n}`).join(", ") : "the MTA asked the toolkit's lookup server nothing for the test message", pass(lookups.length > 0)]);
  }
  if (spec.syscalls) {
    if (profiled === null) out.push(["system calls", "the syscall mechanism is not installed here (npm run setup:mtas): no sys.* points", "FAIL"]);
    else {
      const byRole = new Map<string, number>();
      for (const c of profiled.calls) {
        const role = /^sys\.([^.]+)\./.exec(c.point)?.[1];
        if (role !== undefined) byRole.set(role, (byRole.get(role) ?? 0) + 1);
      }
      const missing = [spec.master, ...Object.keys(spec.roles)].filter((r) => !byRole.has(r));
      out.push(["system calls", byRole.size > 0 ? `${[...byRole].map(([r, n]) => `${r} ${n}`).join(", ")} call(s) seen${missing.length > 0 ? `; none from ${missing.join(", ")}` : ""}` : "no call seen in any role", pass(byRole.size > 0)]);
    }
  }
  return out;
}
