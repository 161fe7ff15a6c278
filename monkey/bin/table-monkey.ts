#!/usr/bin/env node
// Entry smtpd execs for `table NAME monkey:/cfg`: imsg on fd 0, config path in argv.
// Config (JSON): { entries: {key: value}, plan?: <plan document>, seed?: number,
//   startedAt?: ms epoch (aligns the plan's windows with the run), point?: string,
//   eventsFile?: path (one JSON line per fired fault, for the runner's attribution),
//   socketmap?: {host, port, map}: forward every lookup to that socketmap server (loopback only),
//     so the runner's injector decides; entries/plan are then unused }
import net from "node:net";
import { appendFileSync, readFileSync } from "node:fs";
import { Injector } from "../injector.js";
import { validatePlan } from "../plan.js";
import { TableProcBackend } from "../layers/table-proc.js";
import { SocketmapClient } from "../layers/socketmap-client.js";

function main(): void {
  const cfgPath = process.argv[2];
  if (cfgPath === undefined) {
    process.stderr.write("table-monkey: usage: table-monkey CONFIG.json\n");
    process.exit(2);
  }
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as {
    entries?: Record<string, string>;
    plan?: unknown;
    seed?: number;
    startedAt?: number;
    point?: string;
    eventsFile?: string;
    socketmap?: { host: string; port: number; map: string };
  };
  let injector: Injector | null = null;
  if (cfg.plan !== undefined) {
    const plan = validatePlan(cfg.plan, cfgPath);
    injector = new Injector({ plan, seed: cfg.seed ?? plan.seed ?? 0, ...(cfg.startedAt !== undefined ? { startedAt: cfg.startedAt } : {}) });
    const events = cfg.eventsFile;
    if (events !== undefined) injector.onFire((f) => appendFileSync(events, JSON.stringify(f) + "\n"));
  }
  const channel = new net.Socket({ fd: 0, readable: true, writable: true });
  const sm = cfg.socketmap;
  const client = sm === undefined ? null : new SocketmapClient(sm.host, sm.port);
  new TableProcBackend({
    channel,
    entries: cfg.entries ?? {},
    injector,
    ...(cfg.point !== undefined ? { point: cfg.point } : {}),
    ...(client !== null && sm !== undefined ? { remote: (key: string) => client.lookup(sm.map, key) } : {}),
    onExit: (code) => process.exit(code),
    log: (l) => process.stderr.write(l + "\n"),
  });
}

main();
