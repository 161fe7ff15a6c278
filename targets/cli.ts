// `smtpchaos target start|stop|status NAME`: a target that outlives the command, tracked by a
// state file (PID, endpoint, working directory) so that stop ends exactly the process it started.
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync, existsSync, closeSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { EXIT } from "../bin/exit-codes.js";
import { SmtpSession } from "../smtp/session.js";
import { READY_PREFIX } from "./embedded/protocol.js";
import type { ReadyLine } from "./embedded/protocol.js";
import { targetNames } from "./registry.js";
import { isLive } from "./process/procfs.js";
import type { Endpoint } from "./target.js";

const USAGE = `usage: smtpchaos target start|stop|status NAME [--state DIR]

  start NAME    start the target in the background and print its endpoint
  status NAME   show whether it runs, its PID, endpoint and banner
  stop NAME     stop the process that 'start' started (by PID)

  --state DIR   where state files live (default $SMTPCHAOS_STATE or ./.smtpchaos)

targets: ${targetNames().join(", ")} (opensmtpd and postfix need root and 'npm run setup:mtas')`;

interface State {
  name: string;
  pid: number;
  endpoint: Endpoint;
  log: string;
  startedAt: string;
}

const HOST = fileURLToPath(new URL("./host.js", import.meta.url));

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { state: { type: "string" }, help: { type: "boolean", short: "h" } } });
  } catch (err) {
    console.error(`smtpchaos target: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (parsed.values.help === true) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const [action, name] = parsed.positionals;
  if (action === undefined || name === undefined || !["start", "stop", "status"].includes(action)) {
    console.error(USAGE);
    return EXIT.usage;
  }
  if (!targetNames().includes(name)) {
    console.error(`smtpchaos target: unknown target "${name}" (known: ${targetNames().join(", ")})`);
    return EXIT.usage;
  }
  const stateDir = resolve(parsed.values.state ?? process.env.SMTPCHAOS_STATE ?? ".smtpchaos");
  const stateFile = join(stateDir, `${name}.json`);
  if (action === "start") return start(name, stateDir, stateFile);
  if (action === "status") return status(stateFile);
  return stop(stateFile);
}

function readState(file: string): State | null {
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, "utf8")) as State;
}

function alive(pid: number): boolean {
  if (process.platform === "linux") return isLive(pid);
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function start(name: string, stateDir: string, stateFile: string): Promise<number> {
  const existing = readState(stateFile);
  if (existing !== null && alive(existing.pid)) {
    console.error(`smtpchaos target: ${name} is already running (pid ${existing.pid}) on ${existing.endpoint.host}:${existing.endpoint.port}`);
    return EXIT.usage;
  }
  mkdirSync(stateDir, { recursive: true });
  const log = join(stateDir, `${name}.log`);
  const fd = openSync(log, "w");
  const child = spawn(process.execPath, [HOST, name], { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    console.error(`smtpchaos target: cannot start ${name}`);
    return EXIT.usage;
  }
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const ready = readFileSync(log, "utf8")
      .split("\n")
      .find((l) => l.startsWith(READY_PREFIX));
    if (ready !== undefined) {
      const r = JSON.parse(ready.slice(READY_PREFIX.length)) as ReadyLine & { mailboxes: string[]; host6: string | null };
      const state: State = {
        name,
        pid,
        endpoint: { host: "127.0.0.1", port: r.port, ...(r.tlsPort !== null ? { tlsPort: r.tlsPort } : {}), ...(r.host6 !== null ? { host6: r.host6 } : {}) },
        log,
        startedAt: new Date().toISOString(),
      };
      writeFileSync(stateFile, JSON.stringify(state, null, 2));
      console.log(`${name} started: pid ${pid}, listening on 127.0.0.1:${r.port}${r.host6 !== null ? ` and [${r.host6}]:${r.port}` : ""}, mailboxes ${r.mailboxes.join(" ")}, log ${log}`);
      return EXIT.ok;
    }
    if (!alive(pid)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (alive(pid)) process.kill(pid, "SIGKILL");
  console.error(`smtpchaos target: ${name} did not become ready; log ${log}:\n${readFileSync(log, "utf8").split("\n").slice(-10).join("\n")}`);
  return EXIT.usage;
}

async function status(stateFile: string): Promise<number> {
  const s = readState(stateFile);
  if (s === null) {
    console.log("not running (no state file)");
    return EXIT.failures;
  }
  if (!alive(s.pid)) {
    console.log(`not running (pid ${s.pid} is gone; log ${s.log})`);
    return EXIT.failures;
  }
  let banner: string;
  try {
    const session = await SmtpSession.connect({ host: s.endpoint.host, port: s.endpoint.port, timeoutMs: 3000, transcript: null });
    const r = await session.readReply(undefined, "banner");
    await session.quit();
    banner = `${r.code} ${r.text}`;
  } catch (err) {
    banner = `no banner: ${(err as Error).message}`;
  }
  console.log(`${s.name} running: pid ${s.pid}, ${s.endpoint.host}:${s.endpoint.port}${s.endpoint.host6 !== undefined ? ` and [${s.endpoint.host6}]:${s.endpoint.port}` : ""}, since ${s.startedAt}\nbanner: ${banner}`);
  return banner.startsWith("220") ? EXIT.ok : EXIT.failures;
}

async function stop(stateFile: string): Promise<number> {
  const s = readState(stateFile);
  if (s === null) {
    console.log("not running (no state file)");
    return EXIT.ok;
  }
  if (alive(s.pid)) {
    process.kill(s.pid, "SIGTERM");
    const deadline = Date.now() + 15_000;
    while (alive(s.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (alive(s.pid)) process.kill(s.pid, "SIGKILL");
  }
  rmSync(stateFile, { force: true });
  console.log(`${s.name} stopped (pid ${s.pid})`);
  return EXIT.ok;
}
