// Source text -> syntax tree -> a checked Program with includes resolved.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as peggyParse, SyntaxError as PeggySyntaxError } from "./parser.generated.js";
import type { Loc, Program, Proc, ScriptFile, Statement, Str, TestCase } from "./ast.js";
import { ScriptError, lineOf } from "./errors.js";

/** Parses one file's text. Throws ScriptError with the location of the first syntax error. */
export function parseScript(source: string, file: string): ScriptFile {
  try {
    return peggyParse(source, { grammarSource: file }) as ScriptFile;
  } catch (err) {
    if (err instanceof PeggySyntaxError) {
      const { line, column } = err.location.start;
      throw new ScriptError({ file, line, column }, describeSyntaxError(err), lineOf(source, line));
    }
    throw err;
  }
}

type Expectation = { type: string; text?: string; description?: string; parts?: unknown };

// Peggy lists white space and comments among the expectations wherever they may appear; they
// only add noise to "expected ..." so they are left out when anything else is possible.
const NOISE = new Set(["white space", "comment", '"\\r\\n"', '"\\n"', '"\\r"', "[ \\t]", "[\\n\\r]", "[ \\t\\r\\n]"]);

function describeSyntaxError(err: InstanceType<typeof PeggySyntaxError>): string {
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
  const read = options.readFile ?? ((p: string) => readFileSync(p, "utf8"));
  const sources = new Map<string, string>();
  const program: Program = { file, procs: new Map(), testCases: [], defaults: [], sources };

  const visit = (path: string, stack: string[], from: Loc | null): void => {
    const abs = resolve(path);
    if (stack.includes(abs)) {
      const loc = from as Loc;
      throw new ScriptError(loc, `include cycle: ${[...stack, abs].map((p) => displayPath(p, file)).join(" -> ")}`, lineOf(sources.get(resolve(loc.file)) ?? "", loc.line));
    }
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
  const walkSets = (body: Statement[]): void => {
    for (const st of body) {
      if (st.kind === "set") defined.add(st.name);
      if (st.kind === "repeat" || st.kind === "on") walkSets(st.body);
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
  const checkBody = (body: Statement[], callStack: string[]): void => {
    for (const st of body) {
      switch (st.kind) {
        case "writeln":
        case "write":
          checkStr(st.text, st.loc);
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
        case "on":
          checkBody(st.body, callStack);
          break;
        case "call": {
          const proc: Proc | undefined = program.procs.get(st.name);
          if (proc === undefined) throw located(st.loc, `call of undefined proc "${st.name}"`, sources);
          if (callStack.includes(st.name)) {
            throw located(st.loc, `proc "${st.name}" calls itself: ${[...callStack, st.name].join(" -> ")}`, sources);
          }
          checkBody(proc.body, [...callStack, st.name]);
          break;
        }
        default:
          break;
      }
    }
  };
  for (const d of program.defaults) checkStr(d.value, d.loc);
  for (const p of program.procs.values()) checkBody(p.body, [p.name]);
  for (const tc of program.testCases) checkBody(tc.body, []);
  const names = new Map<string, TestCase>();
  for (const tc of program.testCases) {
    if (tc.name === null) continue;
    const prev = names.get(tc.name);
    if (prev !== undefined) throw located(tc.loc, `test-case "${tc.name}" is already defined at ${prev.loc.file}:${prev.loc.line}`, sources);
    names.set(tc.name, tc);
  }
}
