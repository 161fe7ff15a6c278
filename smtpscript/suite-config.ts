// `smtpchaos suite run [--target T | --host H --port P] [SUITE...]` read into one typed
// configuration. parseSuiteRunArgs checks every flag (that named files and directories exist)
// and does nothing else; suite-cli.ts runs the configuration.
import { existsSync } from "node:fs";
import { parseAssignments } from "../common/assignments.js";
import { assertDirectory, parseCli, parseDurationFlag, parsePort } from "../common/args.js";
import { UsageError } from "../common/errors.js";
import { chooseServer } from "../targets/server-choice.js";
import type { ServerChoice } from "../targets/server-choice.js";
import type { ServerAddress } from "./runner.js";
import { listSuites } from "./suites.js";
import type { Suite } from "./suites.js";
import { DEFAULT_SETTLE_MS } from "./bind-target.js";

const OPTIONS = {
  target: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  expectations: { type: "string" },
  maildir: { type: "string", multiple: true },
  sink: { type: "string" },
  settle: { type: "string" },
  tls: { type: "boolean" },
  "tls-port": { type: "string" },
  starttls: { type: "boolean" },
  "allow-remote": { type: "boolean" },
  postconf: { type: "string", multiple: true },
  timeout: { type: "string" },
  define: { type: "string", short: "D", multiple: true },
  reporter: { type: "string", multiple: true },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
} as const;

/** A target the run starts and stops (its own address, mailboxes and expectations). */
export interface ManagedServer {
  target: string;
  tls: boolean;
  starttls: boolean;
  /** --postconf: main.cf settings, for postfix only (empty otherwise) */
  postconf: Record<string, string>;
}

/** A server the user runs, and where its deliveries can be read (none: 'expect delivered' is skipped). */
export interface GivenServer {
  address: ServerAddress;
  deliveries: Deliveries | null;
}

export interface Deliveries {
  /** --maildir: Maildirs the server delivers to */
  maildirs: string[];
  /** --sink PORT: the toolkit's recording sink the server relays to, whose Maildir is read too */
  sinkPort: number | null;
  /** the Maildirs are settled once unchanged for this long */
  settleMs: number;
}

export interface SuiteRunConfig {
  suites: Suite[];
  server: ManagedServer | GivenServer;
  /** --expectations FILE (it exists); null: the target's own, or none for a given server */
  expectations: string | null;
  defines: Record<string, string>;
  timeoutMs: number;
  /** the --reporter specs: chosen once the expectations are read (the console names their file) */
  reporter: string[] | undefined;
  verbose: boolean;
}

function parseFlags(argv: string[]) {
  return parseCli({ args: argv, allowPositionals: true, options: OPTIONS });
}

type Values = ReturnType<typeof parseFlags>["values"];

/** Throws a UsageError for anything it cannot take. */
export function parseSuiteRunArgs(argv: string[]): SuiteRunConfig | "help" {
  const { values, positionals } = parseFlags(argv);
  if (values.help === true) return "help";
  const chosen = chooseServer(values, { what: "connect to" });
  const defines = parseAssignments(values.define, "-D");
  // A recipient in the server's own domain: the unknown-user checks must not meet a relay refusal.
  if (defines.rcpt !== undefined && defines.domain === undefined && defines.rcpt.includes("@")) defines.domain = defines.rcpt.slice(defines.rcpt.lastIndexOf("@") + 1);
  const address = serverAddress(values, chosen);
  const deliveries = deliveriesOf(values);
  const postconf = parseAssignments(values.postconf, "--postconf");
  const timeoutMs = values.timeout === undefined ? 10_000 : parseDurationFlag(values.timeout, "--timeout");
  // A file named explicitly must exist; only a target's own expectations are optional.
  if (values.expectations !== undefined && !existsSync(values.expectations)) throw new UsageError(`--expectations ${values.expectations}: no such file`);
  const suites = chosenSuites(positionals);
  if (Object.keys(postconf).length > 0 && values.target !== "postfix") throw new UsageError("--postconf applies to --target postfix only");
  return {
    suites,
    server: "target" in chosen ? { target: chosen.target, tls: address.tls === true, starttls: address.starttls === true, postconf } : { address, deliveries },
    expectations: values.expectations ?? null,
    defines,
    timeoutMs,
    reporter: values.reporter,
    verbose: values.verbose === true,
  };
}

/** --tls/--tls-port/--starttls, as smtpscript's own CLI reads them; --tls-port is --host's SMTPS port. */
function serverAddress(values: Values, chosen: ServerChoice): ServerAddress {
  const tlsPort = values["tls-port"] === undefined ? undefined : parsePort(values["tls-port"], "--tls-port");
  if (tlsPort !== undefined && values.target !== undefined) throw new UsageError("--tls-port is for --host: a --target uses its own TLS port with --tls");
  const tls = values.tls === true || tlsPort !== undefined;
  if (tls && values.starttls === true) throw new UsageError("--tls and --starttls are exclusive");
  // with --target, the address is the target's once it runs (bindServer)
  const port = "port" in chosen ? chosen.port : 25;
  return { host: values.host ?? "127.0.0.1", port: tls ? (tlsPort ?? port) : port, tls, starttls: values.starttls === true };
}

/** --maildir, --sink and --settle: for --host only (a --target reads its own mailboxes). */
function deliveriesOf(values: Values): Deliveries | null {
  const maildirs = [...(values.maildir ?? [])];
  if (maildirs.length > 0 && values.target !== undefined) throw new UsageError("--maildir is for --host: a --target reads its own mailboxes");
  if (values.sink !== undefined && values.target !== undefined) throw new UsageError("--sink is for --host: a --target's file says delivery: sink");
  const sinkPort = values.sink === undefined ? null : parsePort(values.sink, "--sink");
  if (values.settle !== undefined && maildirs.length === 0 && sinkPort === null) throw new UsageError("--settle goes with --maildir or --sink");
  for (const d of maildirs) assertDirectory(d, "--maildir");
  const settleMs = values.settle === undefined ? DEFAULT_SETTLE_MS : parseDurationFlag(values.settle, "--settle");
  return maildirs.length === 0 && sinkPort === null ? null : { maildirs, sinkPort, settleMs };
}

/** The suites named (all without names); an unknown name is a usage error listing the known ones. */
function chosenSuites(names: readonly string[]): Suite[] {
  const all = listSuites();
  const unknown = names.filter((p) => !all.some((s) => s.name === p));
  if (unknown.length > 0) throw new UsageError(`unknown suite(s) ${unknown.join(", ")} (known: ${all.map((s) => s.name).join(", ")})`);
  return names.length === 0 ? all : all.filter((s) => names.includes(s.name));
}
