// The target file format: an MTA the toolkit does not ship, described as data (see
// README.md "Target files"). Validation collects every problem with its path at once, like
// fault plans do, so a user fixes a file in one pass.
import { UserError } from "../../common/errors.js";
import { formatIssues } from "../../common/issues.js";
import { isAbsolute } from "node:path";
import { parse as parseYaml } from "yaml";
import { posixPattern } from "../process/syscall-shim.js";

/** `{{name}}` placeholders a template may use; anything else is a problem in the file. */
export const PLACEHOLDERS = [
  "dir",
  "here",
  "port",
  "port6",
  "tlsPort",
  "host",
  "host6",
  "hostname",
  "domain",
  "domains",
  "mailboxes",
  "tls.cert",
  "tls.key",
  "relay.domain",
  "relay.host",
  "relay.port",
  "lookups.host",
  "lookups.port",
  "pid",
  "senderDomain",
  "sink.host",
  "sink.port",
] as const;

/** `{{ports.NAME}}`: a free loopback port for each name the file's `ports:` lists. */
export const PORT_PLACEHOLDER = /^ports\.([a-z][a-z0-9_-]*)$/i;

/** A process of the test set-up (a sink, a backend, a milter): started before the MTA, stopped after it; never a role or a fault point. */
export interface HelperSpec {
  name: string;
  /** [program, args...], templated */
  command: string[];
  env: Record<string, string>;
  /** a port (templated, e.g. "{{ports.backend}}") it listens on once ready; the MTA starts after that */
  ready: string | null;
}

export interface QueueSizeSpec {
  command: string[];
  /** "count": the first integer in the output (exim -bpc); "lines": non-empty lines (postqueue -j) */
  parse: "count" | "lines";
}

/**
 * A command listing the ledger ids of the messages in the queue, so that stuck (queued) and lost
 * mail are told apart by id. "ids": one X-Smtpchaos-Id value a line (a line may keep the header's
 * name, as `grep -ho 'X-Smtpchaos-Id: [^ ]*'` prints it); for a queued bounce, the id of the message
 * it reports on. Without it, stuck and lost are told apart only when the queue is empty.
 */
export interface QueueListSpec {
  command: string[];
  parse: "ids";
}

/** The ids a queueList command printed (see QueueListSpec). */
export function parseQueueIds(out: string): string[] {
  const ids: string[] = [];
  for (const line of out.split("\n")) {
    const id = /^\S+/.exec(line.trim().replace(/^X-Smtpchaos-Id:\s*/i, ""))?.[0];
    if (id !== undefined) ids.push(id);
  }
  return ids;
}

export interface TargetFileSpec {
  name: string;
  summary: string;
  /** programs that must exist (absolute paths, or names looked up on PATH) */
  requires: string[];
  /** needs root (isolation, privileged ports, setuid daemons) */
  root: boolean;
  domain: string;
  /** local parts of the mailboxes that exist (user -> user@domain) */
  mailboxes: string[];
  /** extra local domains the MTA also delivers for (e.g. localhost) */
  localDomains: string[];
  hostname: string;
  /** directories (relative to the instance directory) created before each start */
  directories: string[];
  /** file name (relative to the instance directory) -> template */
  files: Record<string, string>;
  /** make a self-signed certificate ({{tls.cert}}, {{tls.key}}); a second port ({{tlsPort}}) is implicit TLS */
  tls: boolean;
  /** listen on an implicit-TLS port too ({{tlsPort}}) */
  implicitTls: boolean;
  /** the foreground start command, templated */
  start: string[];
  env: Record<string, string>;
  /** run in a private mount namespace with a loopback-only resolv.conf (needs root) */
  isolateDns: boolean;
  /**
   * give the MTA a /dev/log of its own (a private mount namespace; needs root) whose records are
   * read into the target's log like a log file's lines: for MTAs that log only through syslog(3)
   */
  syslog: boolean;
  /** role of the process the start command becomes */
  master: string;
  /** role -> regular expression on a descendant's command line */
  roles: Record<string, string>;
  /** log files (templated) followed into the target's log, besides its stdout/stderr */
  logs: string[];
  /** log lines that mean the MTA (or one of its processes) died */
  crash: string[];
  /** Maildirs it delivers into (templated) */
  maildirs: string[];
  /**
   * "maildirs": delivered mail is what lands in `maildirs`; "sink": the toolkit runs its own
   * recording SMTP server ({{sink.host}}:{{sink.port}}) that the MTA relays to, and mail that
   * arrives there is delivered (relays, filters, submission servers)
   */
  delivery: "maildirs" | "sink";
  /** names of extra free loopback ports, {{ports.NAME}} */
  ports: string[];
  helpers: HelperSpec[];
  /** false: the MTA listens on 127.0.0.1 only (no {{host6}} listener is required of it) */
  ipv6: boolean;
  /**
   * directories (relative to the instance directory, plain paths) whose contents must survive a
   * host crash: its queue or spool and the Maildirs; what `smtpchaos crash run` records and cuts
   */
  durable: string[];
  /** commands run in order before every start, after the files are rendered (ownership, permissions, databases) */
  prepare: string[][] | null;
  flush: string[] | null;
  queueSize: QueueSizeSpec | null;
  /** lists the ids in the queue (QueueListSpec); null: stuck and lost are told apart only by an empty queue */
  queueList: QueueListSpec | null;
  /** its lookups ({{lookups.host}}/{{lookups.port}}, socketmap) may be routed to the monkey */
  lookups: boolean;
  /**
   * roles that may run under libfiu: the start command is run through a wrapper that preloads
   * libfiu and gives its process a control FIFO the monkey writes to; processes it forks inherit
   * the failure points it has when they are forked
   */
  libfiu: string[];
  /** smtpchaos point -> the libfiu failure points that stand for it in this MTA (over the defaults) */
  libfiuPoints: Record<string, string[]>;
  /** point -> a regular expression on the MTA's log line that reports that call failing */
  libfiuLog: Record<string, string>;
  /**
   * the syscall shim is preloaded into its processes when fault injection asks (sys.<role>.<call>):
   * false for an MTA that must not see LD_PRELOAD; its roles' patterns then need not be POSIX
   */
  syscalls: boolean;
  /** the stall role for `monkey delay queue.*` (a process that owns the queue alone) */
  stallRole: string | null;
  /** suite expectations file (relative to the target file) */
  expectations: string | null;
  /** where the file was read from */
  path: string;
}

export class TargetFileError extends UserError {
  constructor(
    readonly path: string,
    readonly problems: string[],
  ) {
    super(formatIssues(path, problems.map((message) => ({ path: "", message }))));
  }
}

/** Every field a target file may have: the compiler checks it names exactly TargetFileSpec's
 * fields (the type, this table and the parser's literal cannot drift apart). */
const FIELDS: Record<Exclude<keyof TargetFileSpec, "path">, true> = {
  name: true,
  summary: true,
  requires: true,
  root: true,
  domain: true,
  mailboxes: true,
  localDomains: true,
  hostname: true,
  directories: true,
  files: true,
  tls: true,
  implicitTls: true,
  start: true,
  env: true,
  isolateDns: true,
  syslog: true,
  master: true,
  roles: true,
  logs: true,
  crash: true,
  maildirs: true,
  delivery: true,
  ports: true,
  helpers: true,
  ipv6: true,
  durable: true,
  prepare: true,
  flush: true,
  queueSize: true,
  queueList: true,
  lookups: true,
  libfiu: true,
  libfiuPoints: true,
  libfiuLog: true,
  syscalls: true,
  stallRole: true,
  expectations: true,
};

export const TARGET_FILE_FIELDS: ReadonlySet<string> = new Set(Object.keys(FIELDS));

/** Parses and checks a target file's text; throws TargetFileError listing every problem. */
export function parseTargetFile(text: string, path: string, defaultName: string): TargetFileSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new TargetFileError(path, [`does not parse as YAML: ${(err as Error).message.split("\n")[0]}`]);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new TargetFileError(path, ["expected a mapping of fields (name, start, maildirs, ...)"]);
  const d = doc as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(d)) if (!TARGET_FILE_FIELDS.has(k)) problems.push(`${k}: unknown field (known: ${[...TARGET_FILE_FIELDS].join(", ")})`);

  const str = (k: string, def?: string): string => {
    const v = d[k];
    if (v === undefined) {
      if (def === undefined) problems.push(`${k}: required`);
      return def ?? "";
    }
    if (typeof v !== "string" || v === "") {
      problems.push(`${k}: expected a non-empty string`);
      return def ?? "";
    }
    return v;
  };
  const bool = (k: string, def: boolean): boolean => {
    const v = d[k];
    if (v === undefined) return def;
    if (typeof v !== "boolean") problems.push(`${k}: expected true or false`);
    return v === true;
  };
  const list = (k: string, def: string[] | null): string[] => {
    const v = d[k];
    if (v === undefined) {
      if (def === null) problems.push(`${k}: required`);
      return def ?? [];
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
      problems.push(`${k}: expected a list of strings`);
      return [];
    }
    return v as string[];
  };
  const map = (k: string): Record<string, string> => {
    const v = d[k];
    if (v === undefined) return {};
    if (v === null || typeof v !== "object" || Array.isArray(v) || !Object.values(v).every((x) => typeof x === "string")) {
      problems.push(`${k}: expected a mapping of strings`);
      return {};
    }
    return v as Record<string, string>;
  };
  // one command ([program, args...]) or a list of them ([[program, args...], ...])
  const commands = (k: string): string[][] | null => {
    const v = d[k];
    if (v === undefined) return null;
    if (Array.isArray(v) && v.length > 0 && v.every((c) => Array.isArray(c))) {
      const bad = v.findIndex((c) => !Array.isArray(c) || c.length === 0 || !c.every((x) => typeof x === "string"));
      if (bad >= 0) problems.push(`${k}[${bad}]: expected a command (a list: program, then arguments)`);
      return bad >= 0 ? [] : (v as string[][]);
    }
    const one = command(k, false);
    return one === null || one.length === 0 ? [] : [one];
  };
  const command = (k: string, required: boolean): string[] | null => {
    if (d[k] === undefined && !required) return null;
    const c = list(k, null);
    if (d[k] !== undefined && c.length === 0) problems.push(`${k}: expected a command (a list: program, then arguments)`);
    return c;
  };

  const spec: TargetFileSpec = {
    name: str("name", defaultName),
    summary: str("summary", `${defaultName} (target file)`),
    requires: list("requires", []),
    root: bool("root", false),
    domain: str("domain", "test.example").toLowerCase(),
    mailboxes: list("mailboxes", ["user", "postmaster"]),
    localDomains: list("localDomains", []),
    hostname: str("hostname", "mx.test.example"),
    directories: list("directories", []),
    files: map("files"),
    tls: bool("tls", false),
    implicitTls: bool("implicitTls", false),
    start: command("start", true) ?? [],
    env: map("env"),
    isolateDns: bool("isolateDns", false),
    syslog: bool("syslog", false),
    master: str("master", "daemon"),
    roles: map("roles"),
    logs: list("logs", []),
    crash: list("crash", []),
    maildirs: list("maildirs", d.delivery === "sink" ? [] : null),
    delivery: "maildirs",
    ports: list("ports", []),
    helpers: [],
    ipv6: bool("ipv6", true),
    durable: list("durable", []),
    prepare: commands("prepare"),
    flush: command("flush", false),
    queueSize: null,
    queueList: null,
    lookups: bool("lookups", false),
    libfiu: list("libfiu", []),
    libfiuPoints: {},
    libfiuLog: map("libfiuLog"),
    syscalls: bool("syscalls", true),
    stallRole: d.stallRole === undefined ? null : str("stallRole"),
    expectations: d.expectations === undefined ? null : str("expectations"),
    path,
  };
  // a command the toolkit runs, and how its output reads
  const commandField = <P extends string>(field: string, parses: readonly P[], dflt: P): { command: string[]; parse: P } | null => {
    const v = d[field];
    if (v === undefined) return null;
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      problems.push(`${field}: expected { command: [...], parse: ${parses.join(" | ")} }`);
      return null;
    }
    const qc = (v as Record<string, unknown>).command;
    const qp = (v as Record<string, unknown>).parse ?? dflt;
    if (!Array.isArray(qc) || qc.length === 0 || !qc.every((x) => typeof x === "string")) problems.push(`${field}.command: expected a command (a list: program, then arguments)`);
    const known = parses.find((p) => p === qp);
    if (known === undefined) problems.push(`${field}.parse: expected ${parses.map((p) => JSON.stringify(p)).join(" or ")}, got ${JSON.stringify(qp)}`);
    return { command: Array.isArray(qc) ? (qc as string[]) : [], parse: known ?? dflt };
  };
  spec.queueSize = commandField("queueSize", ["count", "lines"], "lines");
  if (d.delivery !== undefined) {
    if (d.delivery === "sink" || d.delivery === "maildirs") spec.delivery = d.delivery;
    else problems.push(`delivery: expected "maildirs" or "sink", got ${JSON.stringify(d.delivery)}`);
  }
  for (const [i, p] of spec.ports.entries()) {
    if (!PORT_PLACEHOLDER.test(`ports.${p}`)) problems.push(`ports[${i}]: "${p}" must be a word (a letter, then letters, digits, _ -)`);
    if (spec.ports.indexOf(p) !== i) problems.push(`ports[${i}]: "${p}" is listed twice`);
  }
  spec.helpers = helpers(d.helpers, problems);
  spec.queueList = commandField("queueList", ["ids"], "ids");
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(spec.name)) problems.push(`name: "${spec.name}" must be a word (letters, digits, . _ -)`);
  if (spec.mailboxes.length === 0) problems.push("mailboxes: at least one local part");
  for (const [i, p] of spec.durable.entries()) {
    if (isAbsolute(p) || p.split("/").some((part) => part === ".." || part === ".") || p.includes("{{") || p === "") problems.push(`durable[${i}]: "${p}" must be a directory relative to the instance directory (no {{...}}, no . or ..)`);
  }
  for (const [i, p] of spec.durable.entries()) {
    const clash = spec.durable.find((q, j) => j !== i && (p + "/").startsWith(q.replace(/\/+$/, "") + "/"));
    if (clash !== undefined) problems.push(`durable[${i}]: "${p}" lies inside "${clash}": list the outer directory only`);
  }
  for (const [role, re] of Object.entries(spec.roles)) {
    try {
      new RegExp(re);
    } catch (err) {
      problems.push(`roles.${role}: not a regular expression: ${(err as Error).message}`);
      continue;
    }
    if (spec.syscalls) {
      try {
        posixPattern(re);
      } catch (err) {
        problems.push(`roles.${role}: ${(err as Error).message} (or syscalls: false)`);
      }
    }
  }
  for (const [point, re] of Object.entries(spec.libfiuLog)) {
    try {
      new RegExp(re);
    } catch (err) {
      problems.push(`libfiuLog.${point}: not a regular expression: ${(err as Error).message}`);
    }
  }
  for (const [i, re] of spec.crash.entries()) {
    try {
      new RegExp(re);
    } catch (err) {
      problems.push(`crash[${i}]: not a regular expression: ${(err as Error).message}`);
    }
  }
  if (spec.stallRole !== null && spec.stallRole !== spec.master && spec.roles[spec.stallRole] === undefined) problems.push(`stallRole: "${spec.stallRole}" is not a role (roles: ${[spec.master, ...Object.keys(spec.roles)].join(", ")})`);
  if (spec.isolateDns && !spec.root) problems.push("isolateDns: needs root: true (a mount namespace)");
  if (spec.syslog && !spec.root) problems.push("syslog: needs root: true (a mount namespace with its own /dev/log)");
  const lp = d.libfiuPoints;
  if (lp !== undefined) {
    if (lp === null || typeof lp !== "object" || Array.isArray(lp)) problems.push("libfiuPoints: expected a mapping of point -> list of libfiu failure points");
    else {
      for (const [point, names] of Object.entries(lp)) {
        if (!/^(queue\.[a-z]+|alloc)$/.test(point)) problems.push(`libfiuPoints.${point}: not a libfiu-backed point (queue.* or alloc)`);
        if (!Array.isArray(names) || !names.every((n) => typeof n === "string" && /^[a-z]+(\/[\w*]+)+$/.test(n))) problems.push(`libfiuPoints.${point}: expected a list of libfiu failure points (e.g. posix/stdio/rw/fwrite; [] = not offered)`);
        else spec.libfiuPoints[point] = names as string[];
      }
    }
  }
  for (const r of spec.libfiu) if (r !== spec.master) problems.push(`libfiu: "${r}" cannot be reached: only the process the start command becomes (master: ${spec.master}) gets libfiu's control FIFO`);
  const templated: Array<[string, string]> = [
    ...Object.entries(spec.files).map(([f, t]): [string, string] => [`files["${f}"]`, t]),
    ...spec.start.map((a, i): [string, string] => [`start[${i}]`, a]),
    ...Object.entries(spec.env).map(([k, v]): [string, string] => [`env.${k}`, v]),
    ...spec.logs.map((a, i): [string, string] => [`logs[${i}]`, a]),
    ...spec.maildirs.map((a, i): [string, string] => [`maildirs[${i}]`, a]),
    ...(spec.prepare ?? []).flatMap((c, j) => c.map((a, i): [string, string] => [(spec.prepare?.length ?? 0) > 1 ? `prepare[${j}][${i}]` : `prepare[${i}]`, a])),
    ...(spec.flush ?? []).map((a, i): [string, string] => [`flush[${i}]`, a]),
    ...(spec.queueSize?.command ?? []).map((a, i): [string, string] => [`queueSize.command[${i}]`, a]),
    ...(spec.queueList?.command ?? []).map((a, i): [string, string] => [`queueList.command[${i}]`, a]),
    ...spec.helpers.flatMap((h) => [
      ...h.command.map((a, i): [string, string] => [`helpers.${h.name}.command[${i}]`, a]),
      ...Object.entries(h.env).map(([k, v]): [string, string] => [`helpers.${h.name}.env.${k}`, v]),
      ...(h.ready === null ? [] : [[`helpers.${h.name}.ready`, h.ready] as [string, string]]),
    ]),
  ];
  for (const [where, t] of templated) {
    for (const m of t.matchAll(/\{\{\s*([#^/]?)\s*([^}]*?)\s*\}\}/g)) {
      const name = m[2] as string;
      if (m[1] !== "") {
        if (!(SECTIONS as readonly string[]).includes(name)) problems.push(`${where}: unknown section {{${m[1]}${name}}} (known: ${SECTIONS.join(", ")})`);
        continue;
      }
      const port = PORT_PLACEHOLDER.exec(name);
      if (port !== null) {
        if (!spec.ports.includes(port[1] as string)) problems.push(`${where}: {{${name}}} is not declared (ports: [${spec.ports.join(", ")}])`);
        continue;
      }
      if (!(PLACEHOLDERS as readonly string[]).includes(name)) problems.push(`${where}: unknown placeholder {{${name}}} (known: ${PLACEHOLDERS.join(", ")}, ports.NAME)`);
      if (name.startsWith("sink.") && spec.delivery !== "sink") problems.push(`${where}: {{${name}}} needs delivery: sink`);
      if (name.startsWith("tls.") && !spec.tls) problems.push(`${where}: {{${name}}} needs tls: true`);
      if (name === "tlsPort" && !spec.implicitTls) problems.push(`${where}: {{tlsPort}} needs implicitTls: true`);
      if (name.startsWith("lookups.") && !spec.lookups) problems.push(`${where}: {{${name}}} needs lookups: true`);
      if (name === "pid" && !/^(flush|queueSize|queueList)/.test(where)) problems.push(`${where}: {{pid}} (the running daemon) exists only in flush, queueSize and queueList commands`);
    }
  }
  for (const f of Object.keys(spec.files)) if (f.startsWith("/") || f.split("/").includes("..")) problems.push(`files["${f}"]: must be a path inside the instance directory`);
  if (spec.delivery === "sink" && !templated.some(([, t]) => /\{\{\s*sink\.port\s*\}\}/.test(t))) problems.push("delivery: sink: nothing in the file uses {{sink.port}}: the MTA would not know where to relay");
  if (problems.length > 0) throw new TargetFileError(path, problems);
  return spec;
}

function helpers(v: unknown, problems: string[]): HelperSpec[] {
  if (v === undefined) return [];
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    problems.push("helpers: expected a mapping of NAME -> { command: [...], env: {...}, ready: PORT }");
    return [];
  }
  const out: HelperSpec[] = [];
  for (const [name, h] of Object.entries(v)) {
    const where = `helpers.${name}`;
    if (!/^[a-z][a-z0-9_-]*$/i.test(name)) problems.push(`${where}: the name must be a word`);
    const o = (h ?? {}) as Record<string, unknown>;
    if (h === null || typeof h !== "object" || Array.isArray(h)) {
      problems.push(`${where}: expected { command: [...], env: {...}, ready: PORT }`);
      continue;
    }
    for (const k of Object.keys(o)) if (!["command", "env", "ready"].includes(k)) problems.push(`${where}.${k}: unknown field (known: command, env, ready)`);
    const command = o.command;
    if (!Array.isArray(command) || command.length === 0 || !command.every((x) => typeof x === "string")) problems.push(`${where}.command: expected a command (a list: program, then arguments)`);
    const env = o.env ?? {};
    if (env === null || typeof env !== "object" || Array.isArray(env) || !Object.values(env).every((x) => typeof x === "string")) problems.push(`${where}.env: expected a mapping of strings`);
    const ready = o.ready === undefined ? null : typeof o.ready === "number" ? String(o.ready) : o.ready;
    if (ready !== null && typeof ready !== "string") problems.push(`${where}.ready: expected a port (a number or a placeholder such as "{{ports.backend}}")`);
    out.push({ name, command: Array.isArray(command) ? (command as string[]) : [], env: (env ?? {}) as Record<string, string>, ready: typeof ready === "string" ? ready : null });
  }
  return out;
}

/**
 * Sections keep a part of a template only when a feature is on ({{#relay}}...{{/relay}}) or
 * off ({{^lookups}}...{{/lookups}}): a config line for a relay or for IPv6 must not be
 * rendered with empty values.
 */
export const SECTIONS = ["relay", "lookups", "ipv6", "tls", "implicitTls", "sink"] as const;

/** Fills sections, then `{{name}}` placeholders; every name was checked by parseTargetFile. */
export function render(template: string, values: Readonly<Record<string, string>>, on: ReadonlySet<string>): string {
  const sections = template.replace(/\{\{\s*([#^])\s*([\w.]+)\s*\}\}([\s\S]*?)\{\{\s*\/\s*\2\s*\}\}/g, (_, kind: string, name: string, body: string) =>
    (kind === "#") === on.has(name) ? body : "",
  );
  return sections.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_, name: string) => values[name] ?? "");
}
