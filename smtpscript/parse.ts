// Source text -> syntax tree -> a checked Program with includes resolved.
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as peggyParse, SyntaxError as PeggySyntaxError } from "./parser.generated.js";
import type { Loc, Program, ScriptFile, Statement, Str, TestCase } from "./ast.js";
import { ScriptError, lineOf } from "./errors.js";
import { servicePort } from "./services.js";

/** Limits that keep a script from exhausting the parser's stack, the runner or the machine. */
export const SCRIPT_LIMITS = {
  /** nested blocks ({ ... } inside { ... }) */
  maxNesting: 64,
  /** procs calling procs */
  maxCallDepth: 256,
  /** iterations of one repeat */
  maxRepeat: 1_000_000,
  /** bytes of one script file */
  maxFileBytes: 16 * 1024 * 1024,
  /** a sleep or timeout: what a timer can wait (about 24.8 days) */
  maxDurationMs: 2 ** 31 - 1,
} as const;

/** Parses one file's text. Throws ScriptError with the location of the first syntax error. */
export function parseScript(source: string, file: string): ScriptFile {
  checkNesting(source, file);
  try {
    return peggyParse(source, { grammarSource: file }) as ScriptFile;
  } catch (err) {
    if (err instanceof PeggySyntaxError) {
      const { line, column } = err.location.start;
      throw new ScriptError({ file, line, column }, describeSyntaxError(err), lineOf(source, line));
    }
    // Last line of defence should the nesting pre-pass ever miss a shape: still a located error.
    if (err instanceof RangeError) throw new ScriptError({ file, line: 1, column: 1 }, `script nested too deeply to parse (${err.message})`, lineOf(source, 1));
    throw err;
  }
}

/**
 * Finds nesting deeper than the limit before the recursive-descent parser would overflow its stack
 * on it. A level is a block, or a `repeat` whose body is a single statement on the same line
 * (`repeat 2 repeat 3 sleep 1` is two levels); `repeat N {` is one level, as is `random {`.
 */
function checkNesting(source: string, file: string): void {
  let depth = 0;
  /** levels each open brace added, popped at its `}` */
  const opened: number[] = [];
  /** `repeat`s on this line still waiting for their body */
  let pending = 0;
  let line = 1;
  let col = 0;
  const fail = (): never => {
    throw new ScriptError({ file, line, column: col }, `blocks nested deeper than ${SCRIPT_LIMITS.maxNesting} levels`, lineOf(source, line));
  };
  const isWord = (ch: string | undefined): boolean => ch !== undefined && /[A-Za-z0-9_.-]/.test(ch);
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    col++;
    if (c === "\n") {
      line++;
      col = 0;
      // backslash-newline continues the statement
      if (source[i - 1] !== "\\" && source[i - 2] !== "\\") pending = 0;
    } else if (c === "#") {
      while (i + 1 < source.length && source[i + 1] !== "\n") i++;
    } else if (c === '"' || (c === "'" && !isWord(source[i - 1]))) {
      // Strings may span lines (the original skips a newline inside one).
      for (i++, col++; i < source.length && source[i] !== c; i++, col++) {
        if (source[i] === "\\") {
          i++;
          col++;
        }
        if (source[i] === "\n") {
          line++;
          col = 0;
        }
      }
    } else if (c === "r" && source.startsWith("repeat", i) && !isWord(source[i - 1]) && !isWord(source[i + 6])) {
      pending++;
      if (depth + pending > SCRIPT_LIMITS.maxNesting) fail();
    } else if (c === "{") {
      const levels = Math.max(1, pending);
      pending = 0;
      depth += levels;
      opened.push(levels);
      if (depth > SCRIPT_LIMITS.maxNesting) fail();
    } else if (c === "}") {
      pending = 0;
      depth = Math.max(0, depth - (opened.pop() ?? 0));
    }
  }
}

type Expectation = { type: string; text?: string; description?: string; parts?: unknown };

// Peggy lists white space and comments among the expectations wherever they may appear; they
// only add noise to "expected ..." so they are left out when anything else is possible.
const NOISE = new Set(["white space", "comment", '"\\\\"', '"\\r\\n"', '"\\n"', '"\\r"', "[ \\t]", "[\\n\\r]", "[ \\t\\r\\n]"]);

function describeSyntaxError(err: InstanceType<typeof PeggySyntaxError>): string {
  // a grammar action's own error(): its message says it all
  if (err.expected === null || err.expected === undefined) return err.message;
  const expected = ((err.expected ?? []) as Expectation[]).map(describeExpectation);
  const useful = [...new Set(expected.filter((e) => !NOISE.has(e)))];
  const list = (useful.length > 0 ? useful : [...new Set(expected)]).sort();
  const what = list.length <= 1 ? (list[0] ?? "nothing") : `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
  const found = err.found === null ? "end of input" : JSON.stringify(err.found);
  return `expected ${what} but found ${found}`;
}

function describeExpectation(e: Expectation): string {
  if (e.type === "literal") return JSON.stringify(e.text);
  if (e.type === "end") return "end of input";
  if (e.type === "any") return "any character";
  if (e.type === "other") return e.description ?? "?";
  // character classes: peggy keeps the original text in no standard field; describe generically
  return describeClass(e);
}

function describeClass(e: Expectation): string {
  const parts = (e.parts ?? []) as Array<string | [string, string]>;
  const body = parts.map((p) => (typeof p === "string" ? p : `${p[0]}-${p[1]}`)).join("");
  return `[${body.replace(/\r/g, "\\r").replace(/\n/g, "\\n").replace(/\t/g, "\\t")}]`;
}

export interface LoadOptions {
  /** reads an included file; defaults to the file system */
  readFile?: (path: string) => string;
  /** names that will have a value at run time (-D values, runner built-ins) */
  knownVariables?: Iterable<string>;
}

/** Built-in variables every run defines. */
export const BUILTIN_VARIABLES = ["host", "port", "domain", "rcpt", "sender", "uniq"] as const;

/** Loads a script file and everything it includes, then checks it as a whole. */
export function loadProgram(file: string, options: LoadOptions = {}): Program {
  const read = options.readFile ?? readScriptFile;
  const sources = new Map<string, string>();
  const program: Program = { file, procs: new Map(), testCases: [], defaults: [], sources };
  // A file included on several paths (a diamond) is read once: its procs are defined once, and
  // a deep diamond costs one visit per file instead of one per path.
  const loaded = new Set<string>();

  const visit = (path: string, stack: string[], from: Loc | null): void => {
    const abs = resolve(path);
    if (stack.includes(abs)) {
      const loc = from as Loc;
      throw new ScriptError(loc, `include cycle: ${[...stack, abs].map((p) => displayPath(p, file)).join(" -> ")}`, lineOf(sources.get(resolve(loc.file)) ?? "", loc.line));
    }
    if (loaded.has(abs)) return;
    loaded.add(abs);
    let source: string;
    try {
      source = read(path);
    } catch (err) {
      const reason = `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      if (from === null) throw new ScriptError({ file: path, line: 1, column: 1 }, reason, null);
      throw new ScriptError(from, reason, lineOf(sources.get(resolve(from.file)) ?? "", from.line));
    }
    sources.set(abs, source);
    sources.set(path, source);
    const parsed = parseScript(source, path);
    for (const item of parsed.items) {
      switch (item.kind) {
        case "include": {
          const target = literal(item.path, item.loc, sources);
          visit(resolve(dirname(path), target), [...stack, abs], item.loc);
          break;
        }
        case "proc": {
          const prev = program.procs.get(item.name);
          if (prev !== undefined) {
            throw located(item.loc, `proc "${item.name}" is already defined at ${prev.loc.file}:${prev.loc.line}`, sources);
          }
          program.procs.set(item.name, item);
          break;
        }
        case "test-case":
          program.testCases.push(item);
          break;
        case "set":
          program.defaults.push(item);
          break;
      }
    }
  };
  visit(file, [], null);
  check(program, new Set([...BUILTIN_VARIABLES, ...(options.knownVariables ?? [])]), sources);
  return program;
}

/** Reads a script from the file system: regular files only (not /dev/zero, a FIFO or a directory), of a sane size. */
function readScriptFile(path: string): string {
  const st = statSync(path);
  if (!st.isFile()) throw Object.assign(new Error(`not a regular file`), { code: "not a regular file" });
  if (st.size > SCRIPT_LIMITS.maxFileBytes) throw Object.assign(new Error("too large"), { code: `larger than ${SCRIPT_LIMITS.maxFileBytes} bytes` });
  return readFileSync(path, "utf8");
}

function displayPath(abs: string, root: string): string {
  const base = dirname(resolve(root));
  return abs.startsWith(base + "/") ? abs.slice(base.length + 1) : abs;
}

function literal(s: Str, loc: Loc, sources: Map<string, string>): string {
  if (s.parts.some((p) => typeof p !== "string")) throw located(loc, "include paths cannot use variables", sources);
  return s.parts.join("");
}

function located(loc: Loc, reason: string, sources: Map<string, string>): ScriptError {
  return new ScriptError(loc, reason, lineOf(sources.get(resolve(loc.file)) ?? "", loc.line));
}

/** Static checks: calls resolve, procs do not recurse, every ${name} can have a value. */
function check(program: Program, known: Set<string>, sources: Map<string, string>): void {
  const defined = new Set(known);
  for (const d of program.defaults) defined.add(d.name);
  const walkSets = (body: readonly Statement[]): void => {
    for (const st of body) {
      if (st.kind === "set") defined.add(st.name);
      const inner = childrenOf(st);
      if (inner !== null) walkSets(inner);
    }
  };
  for (const p of program.procs.values()) walkSets(p.body);
  for (const tc of program.testCases) walkSets(tc.body);

  const checkStr = (s: Str | null, loc: Loc): void => {
    for (const p of s?.parts ?? []) {
      if (typeof p !== "string" && !defined.has(p.var)) {
        throw located(loc, `undefined variable \${${p.var}} (define it with 'set ${p.var} "..."' or -D ${p.var}=...)`, sources);
      }
    }
  };
  const checkBody = (body: readonly Statement[], calls: Array<{ name: string; loc: Loc }>): void => {
    for (const st of body) {
      switch (st.kind) {
        case "writeln":
        case "write":
          checkStr(st.text, st.loc);
          break;
        case "fail":
          checkStr(st.reason, st.loc);
          break;
        case "connect-to":
          checkStr(st.host, st.loc);
          if (st.port !== null && (st.port < 1 || st.port > 65535)) throw located(st.loc, `invalid port: ${st.port}`, sources);
          if (st.service !== null && servicePort(st.service) === null) throw located(st.loc, `port "${st.service}" is invalid: no such TCP service on this host`, sources);
          break;
        case "block":
        case "random":
          checkBody(st.body, calls);
          break;
        case "expect-smtp":
          checkStr(st.match, st.loc);
          if (st.match !== null && st.match.parts.every((p) => typeof p === "string")) {
            try {
              new RegExp(st.match.parts.join(""));
            } catch (err) {
              throw located(st.loc, `invalid regular expression: ${(err as Error).message}`, sources);
            }
          }
          break;
        case "expect-delivered":
          checkStr(st.header, st.loc);
          break;
        case "auth":
          checkStr(st.user, st.loc);
          checkStr(st.password, st.loc);
          break;
        case "send-message":
          checkStr(st.from, st.loc);
          checkStr(st.body, st.loc);
          for (const t of st.to) checkStr(t, st.loc);
          for (const h of st.headers) checkStr(h, st.loc);
          if (st.body !== null && st.size !== null) throw located(st.loc, "send-message takes either body or size, not both", sources);
          break;
        case "set":
          checkStr(st.value, st.loc);
          break;
        case "repeat":
          if (st.count > SCRIPT_LIMITS.maxRepeat) throw located(st.loc, `repeat count ${st.count} is over the limit of ${SCRIPT_LIMITS.maxRepeat}`, sources);
          checkBody(st.body, calls);
          break;
        case "on":
          checkBody(st.body, calls);
          break;
        case "sleep":
        case "timeout":
          if (st.ms > SCRIPT_LIMITS.maxDurationMs) throw located(st.loc, `${st.kind} of ${st.ms} ms is longer than a timer can wait (${SCRIPT_LIMITS.maxDurationMs} ms)`, sources);
          if (st.kind === "timeout" && st.ms === 0) throw located(st.loc, "timeout 0 would wait for ever; give a duration", sources);
          break;
        case "call":
          if (!program.procs.has(st.name)) throw located(st.loc, `call of undefined proc "${st.name}"`, sources);
          calls.push({ name: st.name, loc: st.loc });
          break;
        default:
          break;
      }
    }
  };
  type Call = { name: string; loc: Loc };
  const callsOf = new Map<string, Call[]>();
  for (const d of program.defaults) checkStr(d.value, d.loc);
  // Every body is checked once; calls form a graph checked apart, so a proc called from many
  // places is not walked once per call path.
  for (const p of program.procs.values()) {
    const calls: Call[] = [];
    checkBody(p.body, calls);
    callsOf.set(p.name, calls);
  }
  // Longest call chain below each proc; a proc on the current path again is recursion.
  const depth = new Map<string, number>();
  const chainFrom = (name: string, path: string[]): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    let deepest = 0;
    for (const c of callsOf.get(name) ?? []) {
      if (c.name === name || path.includes(c.name)) {
        const cycle = c.name === name ? [name, name] : [...path.slice(path.indexOf(c.name)), name, c.name];
        throw located(c.loc, `proc "${c.name}" calls itself: ${cycle.join(" -> ")}`, sources);
      }
      if (path.length >= SCRIPT_LIMITS.maxCallDepth) throw located(c.loc, `procs call procs more than ${SCRIPT_LIMITS.maxCallDepth} deep`, sources);
      deepest = Math.max(deepest, 1 + chainFrom(c.name, [...path, name]));
    }
    depth.set(name, deepest);
    return deepest;
  };
  for (const p of program.procs.values()) chainFrom(p.name, []);
  for (const tc of program.testCases) {
    const calls: Call[] = [];
    checkBody(tc.body, calls);
    for (const c of calls) {
      if ((depth.get(c.name) ?? 0) + 1 > SCRIPT_LIMITS.maxCallDepth) throw located(c.loc, `procs call procs more than ${SCRIPT_LIMITS.maxCallDepth} deep`, sources);
    }
  }
  const names = new Map<string, TestCase>();
  for (const tc of program.testCases) {
    if (tc.name === null) continue;
    const prev = names.get(tc.name);
    if (prev !== undefined) throw located(tc.loc, `test-case "${tc.name}" is already defined at ${prev.loc.file}:${prev.loc.line}`, sources);
    names.set(tc.name, tc);
  }
}

/** The statements directly inside a compound statement, or null for a simple one. */
export function childrenOf(st: Statement): readonly Statement[] | null {
  switch (st.kind) {
    case "repeat":
    case "block":
    case "random":
    case "on":
      return st.body;
    default:
      return null;
  }
}
