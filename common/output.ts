// Outputs as plug-ins (after k6's outputs): a tool hands its result to every output the user
// chose with `--out KIND[=FILE]`. An output is started before the run (a file that cannot be
// written stops the run before any traffic), receives the result once (complete, or partial
// after Ctrl-C) and is stopped, which writes it. A kind of output is one unit in a tool's
// registry (storm/outputs/, monkey/outputs/); this file is the contract and the --out reading.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { assertWritable } from "./output-file.js";
import { UsageError } from "./errors.js";

export interface Output<R> {
  /** Before the run: claims the destination; throws a UsageError when it cannot be written. */
  start(): void;
  /** The run's result (complete, or partial after an interrupt); called at most once. */
  receive(result: R): void;
  /** Writes (or flushes) what it received; throws when it cannot. */
  stop(): Promise<void>;
}

/** Where an output goes: a file, or a stream ("-" on the command line is stdout). */
export interface Destination {
  file: string | null;
  stream: "stdout" | "stderr" | null;
  /** how the user asked for it, for messages: "--out json", "--json" */
  flag: string;
}

export interface OutputKind<R, C = void> {
  readonly name: string;
  /** one line for --help */
  readonly summary: string;
  /** `context` is what the tool knows before the run (e.g. storm's --find-limit); a kind that
   * cannot serve it throws a UsageError */
  create(to: Destination, context: C): Output<R>;
}

/** Writes a whole document to its destination. */
export function writeTo(to: Destination, text: string): void {
  if (to.stream !== null) {
    process[to.stream].write(text);
    return;
  }
  try {
    writeFileSync(to.file as string, text);
  } catch (err) {
    throw new Error(`cannot write ${to.file}: ${(err as Error).message}`);
  }
}

/** The usual output: one text document rendered from the result, written at stop(). */
export function textOutput<R>(to: Destination, render: (result: R) => string): Output<R> {
  let received: { result: R } | null = null;
  return {
    start: () => {
      if (to.file !== null) assertWritable(to.file, to.flag);
    },
    receive: (result) => {
      received = { result };
    },
    stop: async () => {
      if (received !== null) writeTo(to, render(received.result));
    },
  };
}

/** The outputs chosen for one run, started. */
export class ChosenOutputs<R> {
  constructor(
    private readonly outputs: ReadonlyArray<{ kind: string; output: Output<R> }>,
    /** a document goes to stdout: the tool's other lines for people belong on stderr */
    readonly stdoutTaken: boolean,
  ) {}

  get kinds(): string[] {
    return this.outputs.map((o) => o.kind);
  }

  /**
   * Hands the result to every output and stops each. One that cannot write says so on stderr
   * (prefixed by `who`) and the others still write; returns false when any failed.
   */
  async finish(result: R, who: string): Promise<boolean> {
    let ok = true;
    for (const { output } of this.outputs) {
      try {
        output.receive(result);
        await output.stop();
      } catch (err) {
        console.error(`${who}: ${(err as Error).message}`);
        ok = false;
      }
    }
    return ok;
  }
}

/** What the user asked for: --out specs, and the older one-kind flags (--json FILE) as aliases. */
export interface OutputRequest {
  out?: readonly string[] | undefined;
  /** flag name -> its value, e.g. { json: "r.json" } for --json r.json; the flag names a kind */
  aliases?: Readonly<Record<string, string | undefined>>;
}

/**
 * A tool's kinds of output. `implicit` is the kind every run has (the console report): on
 * stdout, unless the user sends it elsewhere with --out, or another output takes stdout (then
 * it goes to stderr, so people still see it and a pipe gets a clean document).
 */
export class OutputRegistry<R, C = void> {
  private readonly kinds = new Map<string, OutputKind<R, C>>();

  constructor(
    kinds: ReadonlyArray<OutputKind<R, C>>,
    private readonly implicit: string,
  ) {
    for (const k of kinds) {
      if (this.kinds.has(k.name)) throw new Error(`an output named "${k.name}" is already registered`);
      this.kinds.set(k.name, k);
    }
    if (!this.kinds.has(implicit)) throw new Error(`the implicit output "${implicit}" is not registered`);
  }

  names(): string[] {
    return [...this.kinds.keys()];
  }

  /** Help lines: one per kind, indented to sit under an option's description. */
  help(indent: string): string {
    const width = Math.max(...this.names().map((n) => n.length));
    return [...this.kinds.values()].map((k) => `${indent}${k.name.padEnd(width)}  ${k.summary}`).join("\n");
  }

  /** Reads the request, creates every output and starts it; throws a one-line UsageError. */
  choose(req: OutputRequest, context: C): ChosenOutputs<R> {
    const wanted: Array<{ kind: string; to: Destination }> = [];
    for (const spec of req.out ?? []) wanted.push(this.parse(spec));
    for (const [flag, file] of Object.entries(req.aliases ?? {})) {
      if (!this.kinds.has(flag)) throw new Error(`--${flag} is no alias: no output named "${flag}"`);
      if (file !== undefined) wanted.push({ kind: flag, to: destination(file, `--${flag}`) });
    }
    const onStdout = wanted.filter((w) => w.to.stream === "stdout");
    if (onStdout.length > 1) throw new UsageError(`${onStdout.map((w) => w.to.flag).join(" and ")} write to stdout: only one output may (give the others a FILE)`);
    const files = new Map<string, string>();
    for (const w of wanted) {
      if (w.to.file === null) continue;
      const same = files.get(resolve(w.to.file));
      if (same !== undefined) throw new UsageError(`${same} and ${w.to.flag} both write ${w.to.file}`);
      files.set(resolve(w.to.file), w.to.flag);
    }
    const stdoutTaken = onStdout.some((w) => w.kind !== this.implicit);
    if (!wanted.some((w) => w.kind === this.implicit)) {
      wanted.unshift({ kind: this.implicit, to: { file: null, stream: stdoutTaken ? "stderr" : "stdout", flag: "" } });
    }
    const outputs = wanted.map((w) => ({ kind: w.kind, output: (this.kinds.get(w.kind) as OutputKind<R, C>).create(w.to, context) }));
    for (const o of outputs) o.output.start();
    return new ChosenOutputs(outputs, stdoutTaken);
  }

  private parse(spec: string): { kind: string; to: Destination } {
    const eq = spec.indexOf("=");
    const kind = eq === -1 ? spec : spec.slice(0, eq);
    if (!this.kinds.has(kind)) throw new UsageError(`--out: unknown output "${kind}" (known: ${this.names().join(", ")}; e.g. --out json=report.json)`);
    if (eq !== -1 && spec.slice(eq + 1) === "") throw new UsageError(`--out ${kind}= needs a FILE (or - for stdout)`);
    return { kind, to: destination(eq === -1 ? "-" : spec.slice(eq + 1), `--out ${kind}`) };
  }
}

function destination(file: string, flag: string): Destination {
  return file === "-" ? { file: null, stream: "stdout", flag } : { file, stream: null, flag };
}
