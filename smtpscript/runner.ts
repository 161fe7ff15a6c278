// Executes a Program against a server: one fresh connection per test-case (plus any opened with
// `connect as`), statements in order, results in the shared result model.
import { probeCapabilities } from "./probe.js";
import { SmtpSession, Capabilities, SmtpClient, SmtpError, SmtpDisconnectedError, SmtpTimeoutError, PreparedMessage, buildMessage, matchCode, matchEnhanced, normalizeLineEndings, sendTransaction } from "../smtp/index.js";
import type { Reply, TlsOptions } from "../smtp/index.js";
import type { Loc, Program, Statement, Str, TestCase } from "./ast.js";
import { testCaseTitle } from "./ast.js";
import { lineOf } from "./errors.js";
import type { RunResult, TestFailure, TestResult } from "./result.js";
import { assertLoopback, RemoteTargetError } from "../common/loopback.js";
import { MAX_TIMER_MS } from "../common/args.js";
import { Rng, randomSeed } from "../common/rng.js";
import type { Seed } from "../common/rng.js";
import { servicePort } from "./services.js";
import { pause } from "../common/settle.js";

export interface ServerAddress {
  host: string;
  port: number;
  /** implicit TLS on connect */
  tls?: boolean;
  /** EHLO + STARTTLS before the script starts (the banner stays readable by the script) */
  starttls?: boolean;
  tlsOptions?: TlsOptions;
}

/** What a script can ask of a toolkit-managed target beyond SMTP. */
export interface ScriptTarget {
  delivered(): Promise<Array<{ data: Buffer }>>;
  flushQueue(): Promise<void>;
  queueSize(): Promise<number>;
  /** scripted fault injection (`monkey` statements), when the target offers it */
  faults?: ScriptFaults;
}

export interface ScriptFaults {
  readonly points: readonly string[];
  apply(args: readonly string[]): void | Promise<void>;
  /** Ends the test-case's faults; returns the points it armed that never fired (when it can tell). */
  clear(): void | readonly string[] | Promise<void | readonly string[]>;
}

export interface RunOptions {
  server: ServerAddress;
  /** label for reports; defaults to host:port */
  targetLabel?: string;
  /** default timeout of every wait, ms */
  timeoutMs?: number;
  /** -D values; they override top-level `set` defaults */
  defines?: Readonly<Record<string, string>>;
  /** test-cases run at once (output stays per test-case, in order) */
  jobs?: number;
  /** only test-cases whose name matches */
  filter?: (name: string) => boolean;
  /** the target behind server, for `expect delivered` and `monkey` */
  target?: ScriptTarget;
  /** permit a non-loopback server (the CLIs' --allow-remote); every connection is checked */
  allowRemote?: boolean;
  /** called as each result becomes final, in test-case order */
  onResult?: (result: TestResult, index: number) => void;
  /** every random choice (random, -r delays, ${uniq}) derives from it; default: a fresh one */
  seed?: Seed;
  /** pause before each test-case, ms (the original's -d) */
  delayMs?: number;
  /** the pause is drawn from [0, delayMs) instead (the original's -r) */
  randomDelay?: boolean;
  /** aborted: no further test-case starts; the ones running finish and are reported (a first Ctrl-C) */
  signal?: AbortSignal;
  /** aborted: the ones running end at once, unreported (a second Ctrl-C: their verdict would be the interrupt's) */
  cutSignal?: AbortSignal;
}

/** An expectation of the script was not met by the server. */
class ExpectationFailed extends Error {}

/** The script asked for something impossible at run time (unknown connection, missing handler). */
class ScriptRuntimeError extends Error {}

interface Connection {
  name: string;
  session: SmtpSession;
  /** replies produced by compound statements (send-message, auth) or re-queued (banner after auto-STARTTLS) */
  pending: Reply[];
  ehloPending: boolean;
  capabilities: Capabilities | null;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export async function runProgram(program: Program, options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const seed = options.seed ?? randomSeed();
  options = { ...options, seed };
  const selected = program.testCases
    .map((tc, index) => ({ tc, index }))
    .filter(({ tc }) => options.filter === undefined || options.filter(testCaseTitle(tc)));
  // Delays come from their own stream so that they never shift a test-case's draws.
  const delays = new Rng(seed, program.file, "delay");
  const results: TestResult[] = new Array(selected.length);
  const done: boolean[] = new Array(selected.length).fill(false);
  let reported = 0;
  const capabilityProbe = new CapabilityProbe(options);

  // Results are announced strictly in order even when --jobs runs them out of order.
  const flush = (): void => {
    while (reported < selected.length && done[reported] === true) {
      options.onResult?.(results[reported] as TestResult, reported);
      reported++;
    }
  };

  let next = 0;
  const stopped = (): boolean => options.signal?.aborted === true;
  const worker = async (): Promise<void> => {
    while (next < selected.length && !stopped()) {
      const i = next++;
      const { tc } = selected[i] as { tc: TestCase; index: number };
      const delayMs = options.delayMs === undefined || options.delayMs <= 0 ? 0 : options.randomDelay === true ? delays.int(options.delayMs) : options.delayMs;
      if (delayMs > 0) await pause(delayMs, options.signal);
      if (stopped()) return;
      const result = await runTestCase(program, tc, options as RunOptions & { seed: Seed }, capabilityProbe);
      if (options.cutSignal?.aborted === true) return;
      results[i] = result;
      done[i] = true;
      flush();
    }
  };
  const jobs = Math.max(1, Math.min(options.jobs ?? 1, selected.length || 1));
  await Promise.all(Array.from({ length: jobs }, worker));

  return {
    target: options.targetLabel ?? hostPort(options.server),
    files: [...new Set(program.testCases.map((t) => t.loc.file))],
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    seed,
    // an interrupted run: the test-cases reported, in order
    results: results.slice(0, reported),
  };
}

function hostPort(s: ServerAddress): string {
  return s.host.includes(":") ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

async function runTestCase(program: Program, tc: TestCase, options: RunOptions & { seed: Seed }, probe: CapabilityProbe): Promise<TestResult> {
  const t0 = performance.now();
  const result: TestResult = {
    name: testCaseTitle(tc),
    file: tc.loc.file,
    loc: tc.loc,
    status: "passed",
    durationMs: 0,
    failure: null,
    skipReason: null,
    transcripts: [],
    acceptedMessages: [],
    seed: options.seed,
    expectFail: tc.expectFail === true,
    expectedFailure: null,
  };
  if (tc.skip !== null) {
    result.status = "skipped";
    result.skipReason = tc.skip === "" ? "skip" : tc.skip;
    return result;
  }
  const lacking = tc.requiresFaults.filter((p) => !(options.target?.faults?.points ?? []).includes(p));
  if (lacking.length > 0) {
    result.status = "skipped";
    result.skipReason = `target offers no fault point ${lacking.join(", ")}`;
    return result;
  }
  const run = new TestRun(program, options, result);
  try {
    if (tc.requires.length > 0) {
      const caps = await probe.get();
      const missing = tc.requires.filter((c) => !caps.has(c));
      if (missing.length > 0) {
        result.status = "skipped";
        result.skipReason = `server lacks ${missing.join(", ")}`;
        return result;
      }
    }
    if (tc.noAutoconnect !== true) await run.open("default", options.server.tls === true ? "implicit" : options.server.starttls === true ? "starttls" : "none", tc.loc);
    await run.exec(tc.body);
  } catch (err) {
    const failure = run.describe(err);
    result.status = failure.type === "expectation" ? "failed" : "error";
    result.failure = failure;
  } finally {
    applyExpectFail(program, tc, result);
    run.closeAll();
    // Faults never outlive the test-case that set them.
    const unreached = await options.target?.faults?.clear();
    // a fault that never fired tested nothing: not the MTA's pass, nor its deviation
    if (unreached !== undefined && unreached.length > 0 && result.status !== "skipped") {
      result.status = "skipped";
      result.skipReason = `not reached: ${unreached.join(", ")} was armed but never fired`;
      result.failure = null;
      result.expectedFailure = null;
    }
    result.durationMs = performance.now() - t0;
  }
  return result;
}

/** The original's verdicts for `expect fail`: a failure passes, a pass fails, an error stays an error. */
function applyExpectFail(program: Program, tc: TestCase, result: TestResult): void {
  if (tc.expectFail !== true) return;
  if (result.status === "failed") {
    result.status = "passed";
    result.expectedFailure = result.failure;
    result.failure = null;
  } else if (result.status === "passed") {
    result.status = "failed";
    result.failure = { message: "passed, but the test-case is marked 'expect fail'", type: "expectation", loc: tc.loc, sourceLine: lineOf(program.sources.get(tc.loc.file) ?? "", tc.loc.line) };
  }
}

class TestRun {
  private readonly connections = new Map<string, Connection>();
  private current = "default";
  private readonly vars = new Map<string, string>();
  private timeoutMs: number;
  /** the statement being executed, for failure locations */
  private at: Loc | null = null;
  private executed = 0;
  /** this test-case's draws: a stream of the run seed named after the test-case */
  private readonly rng: Rng;
  /** a second Ctrl-C: every wait on the server ends now */
  private readonly onCut = (): void => this.closeAll();

  constructor(
    private readonly program: Program,
    private readonly options: RunOptions & { seed: Seed },
    private readonly result: TestResult,
  ) {
    this.rng = new Rng(options.seed, result.name);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.vars.set("host", options.server.host);
    this.vars.set("port", String(options.server.port));
    this.vars.set("domain", "test.example");
    this.vars.set("rcpt", "user@test.example");
    this.vars.set("sender", "sender@client.example");
    // Its own stream, so that using ${uniq} does not shift the `random` draws.
    this.vars.set("uniq", new Rng(options.seed, result.name, "uniq").hex(6));
    for (const d of program.defaults) this.vars.set(d.name, this.str(d.value));
    for (const [k, v] of Object.entries(options.defines ?? {})) this.vars.set(k, v);
    options.cutSignal?.addEventListener("abort", this.onCut, { once: true });
  }

  async open(name: string, tls: "none" | "implicit" | "starttls", loc: Loc, address: { host: string; port: number } = this.options.server): Promise<void> {
    this.at = loc;
    if (this.connections.has(name)) throw new ScriptRuntimeError(`connection "${name}" is already open`);
    const { host, port } = address;
    // Checked at every connect, not only by the CLI: `connect as` and `connect "host"` open more.
    assertLoopback(host, this.options.allowRemote === true, "connect to");
    const session = await SmtpSession.connect({
      host,
      port,
      tls: tls === "implicit" ? "implicit" : "none",
      timeoutMs: this.timeoutMs,
      ...this.options.server.tlsOptions,
    });
    const conn: Connection = { name, session, pending: [], ehloPending: false, capabilities: null };
    this.connections.set(name, conn);
    // cut while it connected: closeAll came too early for it
    if (this.options.cutSignal?.aborted === true) session.close();
    if (session.transcript !== null) this.result.transcripts.push({ connection: name, entries: session.transcript.entries });
    if (tls === "starttls") {
      // Upgrade first, then hand the original banner to the script so plaintext scripts run unchanged.
      const banner = await session.readReply(this.timeoutMs, "banner");
      const { reply } = await session.ehlo("smtpchaos.test");
      if (reply.code !== 250) throw new ExpectationFailed(`EHLO before STARTTLS refused: ${show(reply)}`);
      const st = await session.command("STARTTLS");
      if (st.code !== 220) throw new ExpectationFailed(`STARTTLS refused: ${show(st)}`);
      await session.startTls(this.options.server.tlsOptions);
      conn.pending.push(banner);
    }
  }

  async exec(body: readonly Statement[]): Promise<void> {
    for (const st of body) {
      this.at = st.loc;
      this.stopIfCut();
      await this.step(st);
      // Statements that complete at once chain as microtasks; let timers, I/O and Ctrl-C in now and then.
      if ((++this.executed & 1023) === 0) await new Promise((r) => setImmediate(r));
    }
  }

  private async step(st: Statement): Promise<void> {
    switch (st.kind) {
      case "noop":
        return;
      case "fail":
        throw new ExpectationFailed(this.str(st.reason));
      case "block":
        await this.exec(st.body);
        return;
      case "random": {
        if (st.body.length === 0) return;
        const pick = st.body[this.rng.int(st.body.length)] as Statement;
        this.at = pick.loc;
        await this.step(pick);
        return;
      }
      case "connect-to":
        await this.connectTo(st);
        return;
      case "writeln": {
        const text = this.str(st.text);
        const conn = this.conn();
        this.assertOpen(conn, "writeln");
        if (/^\s*EHLO\b/i.test(text)) conn.ehloPending = true;
        // A loop of writes must not outrun the socket: wait while its buffer is full.
        if (!conn.session.writeLine(text)) await conn.session.drain(this.timeoutMs);
        return;
      }
      case "write": {
        const conn = this.conn();
        this.assertOpen(conn, "write");
        if (!conn.session.write(Buffer.from(this.str(st.text), "latin1"))) await conn.session.drain(this.timeoutMs);
        return;
      }
      case "expect-smtp": {
        const reply = await this.nextReply(describeWant(st));
        // The original reads ok/tempfail/permfail replies as single lines; helo, graceful and a bare expect take continuations.
        if (st.want.kind === "class" && st.want.klass !== "helo" && st.want.klass !== "graceful" && reply.lines.length > 1) {
          throw new ExpectationFailed(`single line response expected, got ${show(reply)}`);
        }
        const problem = checkReply(reply, st.want, st.enhanced, st.match === null ? null : this.str(st.match));
        if (problem !== null) throw new ExpectationFailed(problem);
        return;
      }
      case "expect-disconnect": {
        const conn = this.conn();
        if (conn.pending.length > 0) throw new ExpectationFailed(`expected disconnect, but a reply is unread: ${show(conn.pending[0] as Reply)}`);
        let before: Reply[];
        try {
          before = await conn.session.waitForClose(this.timeoutMs);
        } catch (err) {
          if (err instanceof SmtpTimeoutError) throw new ExpectationFailed(`expected disconnect, connection still open after ${err.ms} ms`);
          throw err;
        }
        if (before.length > 0) throw new ExpectationFailed(`expected disconnect, got reply first: ${show(before[0] as Reply)}`);
        return;
      }
      case "expect-capability": {
        const caps = this.conn().capabilities;
        if (caps === null) throw new ExpectationFailed("expect capability: no EHLO reply has been read on this connection");
        if (st.absent) {
          if (caps.has(st.name)) throw new ExpectationFailed(`server advertises ${st.name}, expected it not to`);
          return;
        }
        if (!caps.has(st.name)) throw new ExpectationFailed(`server does not advertise ${st.name} (has: ${caps.names().join(" ") || "nothing"})`);
        if (st.op !== null && st.value !== null) {
          const raw = caps.params(st.name)?.[0];
          const actual = raw === undefined ? NaN : Number(raw);
          if (!compare(actual, st.op, st.value)) throw new ExpectationFailed(`${st.name} is ${raw ?? "(no value)"}, expected ${st.op} ${st.value}`);
        }
        return;
      }
      case "call": {
        const proc = this.program.procs.get(st.name);
        if (proc === undefined) throw new ScriptRuntimeError(`call of undefined proc "${st.name}"`);
        await this.exec(proc.body);
        return;
      }
      case "upgrade-tls": {
        const conn = this.conn();
        this.assertOpen(conn, "upgrade-tls");
        const reply = await conn.session.command("STARTTLS", this.timeoutMs);
        if (reply.code !== 220) throw new ExpectationFailed(`STARTTLS refused: ${show(reply)}`);
        await conn.session.startTls(this.options.server.tlsOptions, this.timeoutMs);
        conn.capabilities = null;
        return;
      }
      case "starttls":
      case "tls-handshake": {
        const conn = this.conn();
        this.assertOpen(conn, st.kind);
        if (conn.session.tlsInfo !== null) throw new ScriptRuntimeError("TLS is already active on this connection");
        await conn.session.startTls(this.options.server.tlsOptions, this.timeoutMs);
        conn.capabilities = null;
        return;
      }
      case "auth":
        await this.auth(st.mechanism, this.str(st.user), this.str(st.password));
        return;
      case "send-message":
        await this.sendMessage(st);
        return;
      case "sleep":
        await pause(st.ms, this.options.cutSignal);
        return;
      case "timeout":
        // 0 would never time out and beyond MAX_TIMER_MS a timer fires at once.
        if (!(st.ms > 0 && st.ms <= MAX_TIMER_MS)) throw new ScriptRuntimeError(`timeout must be > 0 and at most ${MAX_TIMER_MS} ms, got ${st.ms} ms`);
        this.timeoutMs = st.ms;
        return;
      case "repeat":
        for (let i = 0; i < st.count; i++) await this.exec(st.body);
        return;
      case "connect":
        await this.open(st.name, st.tls, st.loc);
        return;
      case "on": {
        if (!this.connections.has(st.name)) throw new ScriptRuntimeError(`no connection "${st.name}" (open it with 'connect as ${st.name}')`);
        const saved = this.current;
        this.current = st.name;
        try {
          await this.exec(st.body);
        } finally {
          this.current = saved;
        }
        return;
      }
      case "disconnect": {
        const conn = this.conn(st.name ?? undefined);
        conn.session.close();
        return;
      }
      case "set":
        this.vars.set(st.name, this.str(st.value));
        return;
      case "expect-delivered":
        await this.expectDelivered(st.count, this.str(st.header));
        return;
      case "monkey": {
        const faults = this.options.target?.faults;
        if (faults === undefined) throw new ScriptRuntimeError("monkey statements need a target with fault injection (e.g. --target embedded)");
        try {
          await faults.apply(st.args);
        } catch (err) {
          throw new ScriptRuntimeError((err as Error).message);
        }
        return;
      }
    }
  }

  /** The original's connect: the current connection is closed and replaced by one to host:port. */
  private async connectTo(st: Extract<Statement, { kind: "connect-to" }>): Promise<void> {
    const host = this.str(st.host);
    const port = st.port ?? (st.service === null ? this.options.server.port : servicePort(st.service));
    if (port === null) throw new ScriptRuntimeError(`port "${st.service ?? ""}" is invalid: no such TCP service`);
    const old = this.connections.get(this.current);
    if (old !== undefined) {
      old.session.close();
      this.connections.delete(this.current);
    }
    await this.open(this.current, "none", st.loc, { host, port });
  }

  /** Flushes the target's queue, waits until it is empty, then counts matching deliveries. */
  private async expectDelivered(count: number, header: string): Promise<void> {
    const target = this.options.target;
    if (target === undefined) throw new ScriptRuntimeError("expect delivered needs a toolkit-managed target (--target NAME)");
    const re = new RegExp(header, "im");
    const deadline = Date.now() + this.timeoutMs;
    await target.flushQueue();
    while ((await target.queueSize()) > 0) {
      if (Date.now() > deadline) throw new ExpectationFailed(`expect delivered: the target's queue did not drain within ${this.timeoutMs} ms`);
      await pause(100, this.options.cutSignal);
      this.stopIfCut();
    }
    const matching = (await target.delivered()).filter((m) => re.test(headerSection(m.data))).length;
    if (matching !== count) throw new ExpectationFailed(`expected ${count} delivered message(s) with a header matching /${header}/, found ${matching}`);
  }

  private async nextReply(what: string): Promise<Reply> {
    const conn = this.conn();
    const queued = conn.pending.shift();
    const reply = queued ?? (await this.readOrFail(conn, what));
    if (conn.ehloPending && queued === undefined) {
      conn.ehloPending = false;
      conn.capabilities = Capabilities.fromEhlo(reply);
    }
    return reply;
  }

  private async readOrFail(conn: Connection, what: string): Promise<Reply> {
    try {
      return await conn.session.readReply(this.timeoutMs, what);
    } catch (err) {
      // A close where the script expected a reply is the server's doing: a failed expectation.
      if (err instanceof SmtpDisconnectedError) throw new ExpectationFailed(`expected ${what}, ${err.reset ? "connection reset" : "connection closed"} by server${err.partial !== "" ? ` after partial reply ${JSON.stringify(err.partial)}` : ""}`);
      if (err instanceof SmtpError && err.kind === "protocol") throw new ExpectationFailed(err.message);
      throw err;
    }
  }

  private async auth(mechanism: "plain" | "login", user: string, password: string): Promise<void> {
    const conn = this.conn();
    this.assertOpen(conn, "auth");
    const s = conn.session;
    if (mechanism === "plain") {
      conn.pending.push(await s.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString("base64")}`, this.timeoutMs));
      return;
    }
    const first = await s.command("AUTH LOGIN", this.timeoutMs);
    if (first.code !== 334) return void conn.pending.push(first);
    const second = await s.command(Buffer.from(user).toString("base64"), this.timeoutMs);
    if (second.code !== 334) return void conn.pending.push(second);
    conn.pending.push(await s.command(Buffer.from(password).toString("base64"), this.timeoutMs));
  }

  /** MAIL, RCPT..., DATA, body; the first refusal (or the reply to the final dot) is left for the next expect. */
  private async sendMessage(st: Extract<Statement, { kind: "send-message" }>): Promise<void> {
    const conn = this.conn();
    this.assertOpen(conn, "send-message");
    const s = conn.session;
    const from = st.from === null ? (this.vars.get("sender") as string) : this.str(st.from);
    const to = st.to.length === 0 ? [this.vars.get("rcpt") as string] : st.to.map((t) => this.str(t));
    const headers: Record<string, string> = {};
    for (const h of st.headers) {
      const text = this.str(h);
      const colon = text.indexOf(":");
      if (colon <= 0) throw new ScriptRuntimeError(`send-message header must be "Name: value", got "${text}"`);
      headers[text.slice(0, colon).trim()] = text.slice(colon + 1).trim();
    }
    let id: string | null = null;
    const client = SmtpClient.over(s, { host: "", port: 0, helo: "", timeoutMs: this.timeoutMs });
    const final = await sendTransaction(client, {
      from,
      to,
      message: () => {
        const m = buildMessage({ from, to, headers, ...(st.size !== null ? { size: st.size } : { body: st.body === null ? "smtpscript test message\n" : this.str(st.body) }) });
        id = m.id;
        return new PreparedMessage(normalizeLineEndings(m.data));
      },
    });
    // The reply that ended the transaction (a refusal, or the one to the final dot) is the next expect's.
    if (final.klass === "ok" && id !== null) this.result.acceptedMessages.push(id);
    conn.pending.push(final);
  }

  private conn(name: string = this.current): Connection {
    const c = this.connections.get(name);
    if (c === undefined) throw new ScriptRuntimeError(`no connection "${name}"`);
    return c;
  }

  private assertOpen(conn: Connection, what: string): void {
    if (conn.session.closed) throw new ExpectationFailed(`cannot ${what}: connection "${conn.name}" is closed`);
  }

  private str(s: Str): string {
    let out = "";
    for (const p of s.parts) {
      if (typeof p === "string") out += p;
      else {
        const v = this.vars.get(p.var);
        if (v === undefined) throw new ScriptRuntimeError(`variable \${${p.var}} has no value`);
        out += v;
      }
    }
    return out;
  }

  /** A cut test-case ends at its next statement (its result is dropped). */
  private stopIfCut(): void {
    if (this.options.cutSignal?.aborted === true) throw new ScriptRuntimeError("interrupted");
  }

  /** Ends every connection (and the wait for a cut: the test-case is over). */
  closeAll(): void {
    this.options.cutSignal?.removeEventListener("abort", this.onCut);
    for (const c of this.connections.values()) c.session.close();
  }

  describe(err: unknown): TestFailure {
    const loc = this.at;
    const sourceLine = loc === null ? null : lineOf(this.program.sources.get(loc.file) ?? "", loc.line);
    if (err instanceof ExpectationFailed) return { message: err.message, type: "expectation", loc, sourceLine };
    if (err instanceof SmtpError) return { message: err.message, type: err.kind, loc, sourceLine };
    if (err instanceof ScriptRuntimeError || err instanceof RemoteTargetError) return { message: err.message, type: "script", loc, sourceLine };
    return { message: err instanceof Error ? err.message : String(err), type: "internal", loc, sourceLine };
  }
}

/** Opens one connection to learn the server's EHLO keywords, once per run, for `requires capability`. */
class CapabilityProbe {
  private promise: Promise<Capabilities> | null = null;
  constructor(private readonly options: RunOptions) {}

  get(): Promise<Capabilities> {
    this.promise ??= this.probe();
    return this.promise;
  }

  private async probe(): Promise<Capabilities> {
    const { server } = this.options;
    assertLoopback(server.host, this.options.allowRemote === true, "connect to");
    return probeCapabilities(server, this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }
}

function headerSection(data: Buffer): string {
  const text = data.toString("latin1", 0, Math.min(data.length, 64 * 1024));
  const end = text.search(/\r?\n\r?\n/);
  return end === -1 ? text : text.slice(0, end);
}

function describeWant(st: Extract<Statement, { kind: "expect-smtp" }>): string {
  const parts = ["smtp reply"];
  if (st.want.kind === "class") parts.push(st.want.klass);
  if (st.want.kind === "code") parts.push(st.want.pattern);
  if (st.enhanced !== null) parts.push(st.enhanced);
  return parts.join(" ");
}

/** null when the reply satisfies the expectation, else why not. */
export function checkReply(reply: Reply, want: Extract<Statement, { kind: "expect-smtp" }>["want"], enhanced: string | null, match: string | null): string | null {
  const got = show(reply);
  switch (want.kind) {
    case "any":
      break;
    case "class": {
      const ok =
        want.klass === "ok" ? reply.klass === "ok" || reply.klass === "intermediate"
        : want.klass === "helo" ? reply.code === 250
        : want.klass === "tempfail" ? reply.klass === "tempfail"
        : want.klass === "graceful" ? reply.klass !== "permfail"
        : reply.klass === "permfail";
      if (!ok) return `expected ${want.klass} (${CLASS_CODES[want.klass]}), got ${got}`;
      break;
    }
    case "code":
      if (!matchCode(reply.code, want.pattern)) return `expected ${want.pattern}, got ${got}`;
      break;
  }
  if (enhanced !== null && !matchEnhanced(reply.enhanced, enhanced)) {
    return `expected enhanced status ${enhanced}, got ${reply.enhanced === null ? "none" : reply.enhanced.text} in ${got}`;
  }
  if (match !== null && !new RegExp(match).test(reply.text)) return `expected reply text to match /${match}/, got ${got}`;
  return null;
}

const CLASS_CODES = { ok: "2xx/3xx", helo: "250", tempfail: "4xx", permfail: "5xx", graceful: "2xx/3xx or 4xx" } as const;

function show(reply: Reply): string {
  const first = `${reply.code} ${reply.lines[0] ?? ""}`.trimEnd();
  return reply.lines.length > 1 ? `${first} (+${reply.lines.length - 1} lines)` : first;
}

function compare(a: number, op: string, b: number): boolean {
  switch (op) {
    case ">":
      return a > b;
    case "<":
      return a < b;
    case ">=":
      return a >= b;
    case "<=":
      return a <= b;
    case "==":
      return a === b;
    default:
      return a !== b;
  }
}
