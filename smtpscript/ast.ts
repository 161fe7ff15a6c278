// The smtpscript syntax tree, as produced by grammar.peggy. Every node carries its source
// location so failures can point at file:line:col.

export interface Loc {
  file: string;
  line: number;
  column: number;
}

/** A string literal with ${name} references, resolved at run time. */
export interface Str {
  parts: Array<string | { var: string }>;
}

export type ReplyWant =
  | { kind: "any" }
  | { kind: "class"; klass: "ok" | "helo" | "tempfail" | "permfail" | "graceful" }
  /** "250", "25x", "4xx" */
  | { kind: "code"; pattern: string };

export type Statement =
  | { kind: "writeln"; text: Str; loc: Loc }
  | { kind: "write"; text: Str; loc: Loc }
  | { kind: "expect-smtp"; want: ReplyWant; enhanced: string | null; match: Str | null; loc: Loc }
  | { kind: "expect-disconnect"; loc: Loc }
  | { kind: "expect-capability"; name: string; absent: boolean; op: ">" | "<" | ">=" | "<=" | "==" | "!=" | null; value: number | null; loc: Loc }
  /** after the queue drained: exactly `count` delivered messages have a header section matching `header` */
  | { kind: "expect-delivered"; count: number; header: Str; loc: Loc }
  | { kind: "call"; name: string; loc: Loc }
  /** the TLS handshake only (the original's starttls: the script writes STARTTLS and expects 220 itself) */
  | { kind: "starttls"; loc: Loc }
  /** the same handshake, named for what it does */
  | { kind: "tls-handshake"; loc: Loc }
  /** STARTTLS, expect 220, handshake: the convenience */
  | { kind: "upgrade-tls"; loc: Loc }
  | { kind: "auth"; mechanism: "plain" | "login"; user: Str; password: Str; loc: Loc }
  /** headers: extra "Name: value" header lines */
  | { kind: "send-message"; from: Str | null; to: Str[]; headers: Str[]; body: Str | null; size: number | null; loc: Loc }
  | { kind: "sleep"; ms: number; loc: Loc }
  | { kind: "timeout"; ms: number; loc: Loc }
  /** body run `count` times; inline: written `repeat N STATEMENT` (one statement, no braces) */
  | { kind: "repeat"; count: number; body: Statement[]; inline?: boolean; loc: Loc }
  /** `{ ... }` as a statement */
  | { kind: "block"; body: Statement[]; loc: Loc }
  /** runs one of its statements, drawn from the run's seed; empty = no-op */
  | { kind: "random"; body: Statement[]; loc: Loc }
  | { kind: "noop"; loc: Loc }
  /** the test-case fails here with this reason */
  | { kind: "fail"; reason: Str; loc: Loc }
  /** the original's connect: replaces the current connection; port null = the run's port */
  | { kind: "connect-to"; host: Str; port: number | null; service: string | null; loc: Loc }
  | { kind: "connect"; name: string; tls: "none" | "implicit" | "starttls"; loc: Loc }
  | { kind: "on"; name: string; body: Statement[]; loc: Loc }
  | { kind: "disconnect"; name: string | null; loc: Loc }
  /** assign: written the original's way, `name = "value"` (top level only) */
  | { kind: "set"; name: string; value: Str; assign?: boolean; loc: Loc }
  | { kind: "monkey"; args: string[]; loc: Loc };

export type StatementKind = Statement["kind"];

export interface Proc {
  kind: "proc";
  name: string;
  /** the original's `%name` declarations: accepted, never bound (calls take no arguments) */
  params?: string[];
  body: Statement[];
  loc: Loc;
}

export interface TestCase {
  kind: "test-case";
  /** null for unnamed test-cases (the original allows them) */
  name: string | null;
  /** starts with no connection (the script connects itself) */
  noAutoconnect?: boolean;
  /** the test-case is meant to fail: failing counts as passed, passing as failed */
  expectFail?: boolean;
  /** null = run; a string (possibly empty) = skip with that reason */
  skip: string | null;
  /** capabilities the server must advertise, else the test-case is skipped */
  requires: string[];
  /** fault points the target must offer (scripted fault injection), else the test-case is skipped */
  requiresFaults: string[];
  body: Statement[];
  loc: Loc;
}

export interface Include {
  kind: "include";
  path: Str;
  loc: Loc;
}

export type TopItem = Proc | TestCase | Include | Extract<Statement, { kind: "set" }>;

/** One parsed file, before includes are resolved. */
export interface ScriptFile {
  items: TopItem[];
}

/** A script with its includes resolved: what the runner executes. */
export interface Program {
  /** the file named on the command line */
  file: string;
  procs: Map<string, Proc>;
  testCases: TestCase[];
  /** top-level `set`s in source order: defaults that -D overrides */
  defaults: Array<Extract<Statement, { kind: "set" }>>;
  /** source text of every file read, for showing failing lines */
  sources: Map<string, string>;
}

/** The original names an unnamed test-case after where it is: `<file:line>`. */
export function testCaseTitle(tc: TestCase): string {
  return tc.name ?? `<${tc.loc.file}:${tc.loc.line}>`;
}
