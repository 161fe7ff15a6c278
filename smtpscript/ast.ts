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
  | { kind: "class"; klass: "ok" | "helo" | "tempfail" | "permfail" }
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
  | { kind: "starttls"; loc: Loc }
  | { kind: "tls-handshake"; loc: Loc }
  | { kind: "auth"; mechanism: "plain" | "login"; user: Str; password: Str; loc: Loc }
  /** headers: extra "Name: value" header lines */
  | { kind: "send-message"; from: Str | null; to: Str[]; headers: Str[]; body: Str | null; size: number | null; loc: Loc }
  | { kind: "sleep"; ms: number; loc: Loc }
  | { kind: "timeout"; ms: number; loc: Loc }
  | { kind: "repeat"; count: number; body: Statement[]; loc: Loc }
  | { kind: "connect"; name: string; tls: "none" | "implicit" | "starttls"; loc: Loc }
  | { kind: "on"; name: string; body: Statement[]; loc: Loc }
  | { kind: "disconnect"; name: string | null; loc: Loc }
  | { kind: "set"; name: string; value: Str; loc: Loc }
  | { kind: "monkey"; args: string[]; loc: Loc };

export type StatementKind = Statement["kind"];

export interface Proc {
  kind: "proc";
  name: string;
  body: Statement[];
  loc: Loc;
}

export interface TestCase {
  kind: "test-case";
  /** null for unnamed test-cases (the original allows them) */
  name: string | null;
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

export function testCaseTitle(tc: TestCase, index: number): string {
  return tc.name ?? `#${index + 1}`;
}
