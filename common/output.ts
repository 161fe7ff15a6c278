// Outputs as plug-ins (after k6's outputs): a tool hands its result to every output the user
// chose with `--out KIND[=FILE]` (smtpscript's `--reporter`). An output is started before the
// run (a file that cannot be written stops the run before any traffic), may hear the run's
// events as they happen (the live lines people watch), receives the result once (complete, or
// partial after Ctrl-C) and is stopped, which writes it. A kind of output is one unit in a
// tool's registry (storm/outputs/, monkey/outputs/, smtpscript/reporters/); this file is the
// contract and the one reading of KIND[=FILE] every tool uses.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { assertWritable } from "./output-file.js";
import { UsageError } from "./errors.js";

/** R is the run's result, P an event during the run (e.g. one test-case's result). */
export interface Output<R, P = unknown> {
  /** Before the run: claims the destination; throws a UsageError when it cannot be written. */
  start(): void;
  /** An event of the run, in order, before the result; for outputs people watch live. */
  progress?(event: P): void;
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

export interface OutputKind<R, C = void, P = unknown> {
  readonly name: string;
  /** one line for --help */
  readonly summary: string;
  /** `context` is what the tool knows before the run (e.g. storm's --find-limit); a kind that
   * cannot serve it throws a UsageError */
  create(to: Destination, context: C): Output<R, P>;
}

/** A terminal shows it (colours are for terminals only). */
export function isTerminal(to: Destination): boolean {
  return to.stream !== null && process[to.stream].isTTY === true;
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

/**
 * A text output: each event's text as it happens (at once on a stream; a file gets them at
 * stop, as one document), then the result's text at stop.
 */
export function liveOutput<R, P>(to: Destination, render: { event?: (event: P) => string; result: (result: R) => string }): Output<R, P> {
  const held: string[] = [];
  let received: { result: R } | null = null;
  return {
    start: () => {
      if (to.file !== null) assertWritable(to.file, to.flag);
    },
    progress: (event) => {
      const text = render.event?.(event) ?? "";
      if (to.stream !== null) process[to.stream].write(text);
      else held.push(text);
    },
    receive: (result) => {
      received = { result };
    },
    stop: async () => {
      if (received !== null) writeTo(to, held.join("") + render.result(received.result));
    },
  };
}

/** The usual output: one text document rendered from the result, written at stop(). */
export function textOutput<R>(to: Destination, render: (result: R) => string): Output<R> {
  return liveOutput<R, unknown>(to, { result: render });
}

/** A kind that reads its result (and its live events, when `fromEvent` maps them) out of another
 * tool's: suite run's reporters are smtpscript's. */
export function readingFrom<R, S, C, P, Q = unknown>(kind: OutputKind<R, C, P>, from: (result: S) => R, fromEvent?: (event: Q) => P): OutputKind<S, C, Q> {
  return {
    name: kind.name,
    summary: kind.summary,
    create: (to, context) => {
      const output = kind.create(to, context);
      const progress = output.progress;
      return {
        start: () => output.start(),
        ...(progress !== undefined && fromEvent !== undefined ? { progress: (event: Q) => progress.call(output, fromEvent(event)) } : {}),
        receive: (result) => output.receive(from(result)),
        stop: () => output.stop(),
      };
    },
  };
}

/** The outputs chosen for one run, started. */
export class ChosenOutputs<R, P = unknown> {
  constructor(
    private readonly outputs: ReadonlyArray<{ kind: string; output: Output<R, P> }>,
    /** a document goes to stdout: the tool's other lines for people belong on stderr */
    readonly stdoutTaken: boolean,
  ) {}

  get kinds(): string[] {
    return this.outputs.map((o) => o.kind);
  }

  /** An event of the run, to every output that shows events. */
  progress(event: P): void {
    for (const { output } of this.outputs) output.progress?.(event);
  }

  /**
   * Hands the result to every output and stops each. One that cannot write says so on stderr
   * (prefixed by `who`) and the others still write; returns false when any failed.
   */
  async finish(result: R, who: string): Promise<boolean> {
    const failed = await this.deliver(result);
    for (const message of failed) console.error(`${who}: ${message}`);
    return failed.length === 0;
  }

  /** The library's finish: every output writes, then one UsageError names those that could not. */
  async finishOrThrow(result: R): Promise<void> {
    const failed = await this.deliver(result);
    if (failed.length > 0) throw new UsageError(failed.join("; "));
  }

  private async deliver(result: R): Promise<string[]> {
    const failed: string[] = [];
    for (const { output } of this.outputs) {
      try {
        output.receive(result);
        await output.stop();
      } catch (err) {
        failed.push((err as Error).message);
      }
    }
    return failed;
  }
}

/** What the user asked for: KIND[=FILE] specs, and the older one-kind flags (--json FILE) as aliases. */
export interface OutputRequest {
  /** the values of the tool's flag (--out, --reporter), each one spec or a comma list */
  out?: readonly string[] | undefined;
  /** flag name -> its value, e.g. { json: "r.json" } for --json r.json; the flag names a kind */
  aliases?: Readonly<Record<string, string | undefined>>;
  /** a FILE for the last spec of `out` that is not the implicit kind (smtpscript's --output FILE) */
  lastTo?: { flag: string; file: string | undefined };
}

/** How a tool names its outputs in messages: `--out`/"output", smtpscript's `--reporter`/"reporter". */
export interface OutputNaming {
  flag: string;
  noun: string;
}

/**
 * A tool's kinds of output. `implicit` is the kind every run has (the console report): on
 * stdout, unless the user sends it elsewhere, or another output takes stdout (then it goes to
 * stderr, so people still see it and a pipe gets a clean document).
 */
export class OutputRegistry<R, C = void, P = unknown> {
  private readonly kinds = new Map<string, OutputKind<R, C, P>>();

  constructor(
    kinds: ReadonlyArray<OutputKind<R, C, P>>,
    private readonly implicit: string,
    private readonly naming: OutputNaming = { flag: "--out", noun: "output" },
  ) {
    for (const k of kinds) this.register(k);
    if (!this.kinds.has(implicit)) throw new Error(`the implicit output "${implicit}" is not registered`);
  }

  /** Adds a kind (a plug-in's); a name already taken is an error. */
  register(kind: OutputKind<R, C, P>): void {
    if (this.kinds.has(kind.name)) throw new UsageError(`an output named "${kind.name}" is already registered`);
    this.kinds.set(kind.name, kind);
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
  choose(req: OutputRequest, context: C): ChosenOutputs<R, P> {
    const wanted = (req.out ?? []).flatMap((arg) => this.split(arg)).map((spec) => this.parse(spec));
    if (req.lastTo?.file !== undefined) {
      const last = wanted.findLast((w) => w.kind !== this.implicit);
      if (last === undefined) throw new UsageError(`${req.lastTo.flag} needs a ${this.naming.flag} other than ${this.implicit}`);
      last.to = destination(req.lastTo.file, req.lastTo.flag);
    }
    for (const [flag, file] of Object.entries(req.aliases ?? {})) {
      if (!this.kinds.has(flag)) throw new Error(`--${flag} is no alias: no output named "${flag}"`);
      if (file !== undefined) wanted.push({ kind: flag, to: destination(file, `--${flag}`) });
    }
    const { flag, noun } = this.naming;
    const onStdout = wanted.filter((w) => w.to.stream === "stdout");
    if (onStdout.length > 1) throw new UsageError(`${onStdout.map((w) => w.to.flag).join(" and ")} write to stdout: only one ${noun} may (give the others a FILE)`);
    const files = new Map<string, string>();
    for (const w of wanted) {
      if (w.to.file === null) continue;
      const same = files.get(resolve(w.to.file));
      if (same !== undefined) throw new UsageError(`${same} and ${w.to.flag} both write ${w.to.file}`);
      files.set(resolve(w.to.file), w.to.flag);
    }
    const stdoutTaken = onStdout.some((w) => w.kind !== this.implicit);
    if (!wanted.some((w) => w.kind === this.implicit)) {
      wanted.unshift({ kind: this.implicit, to: { file: null, stream: stdoutTaken ? "stderr" : "stdout", flag: `${flag} ${this.implicit}` } });
    }
    const outputs = wanted.map((w) => ({ kind: w.kind, output: (this.kinds.get(w.kind) as OutputKind<R, C, P>).create(w.to, context) }));
    for (const o of outputs) o.output.start();
    return new ChosenOutputs(outputs, stdoutTaken);
  }

  /**
   * One value of the flag as specs: a comma starts the next spec, except inside a FILE when
   * what follows names no kind (`junit=run,1.xml` is one file; `junit=a.xml,tap` is two specs).
   */
  private split(arg: string): string[] {
    const specs: string[] = [];
    for (const piece of arg.split(",")) {
      const previous = specs.at(-1);
      if (previous?.includes("=") === true && !this.kinds.has(piece.split("=", 1)[0] as string)) specs[specs.length - 1] = `${previous},${piece}`;
      else specs.push(piece);
    }
    return specs;
  }

  private parse(spec: string): { kind: string; to: Destination } {
    const { flag, noun } = this.naming;
    const eq = spec.indexOf("=");
    const kind = eq === -1 ? spec : spec.slice(0, eq);
    if (!this.kinds.has(kind)) {
      const example = this.names().find((n) => n !== this.implicit) ?? this.implicit;
      throw new UsageError(`${flag}: unknown ${noun} "${kind}" (known: ${this.names().join(", ")}; e.g. ${flag} ${example}=report.${example})`);
    }
    if (eq !== -1 && spec.slice(eq + 1) === "") throw new UsageError(`${flag} ${kind}= needs a FILE (or - for stdout)`);
    return { kind, to: destination(eq === -1 ? "-" : spec.slice(eq + 1), `${flag} ${kind}`) };
  }
}

function destination(file: string, flag: string): Destination {
  return file === "-" ? { file: null, stream: "stdout", flag } : { file, stream: null, flag };
}
