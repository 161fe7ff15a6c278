// The contract of a storm session kind: one unit with its mix section, its draw, its run over
// the transaction engine, its smtpscript rendering and its shrink steps side by side. Kinds are
// listed in storm/kinds/all.ts (one line each); the mix schema, the CLI help and the shrinker read that list.
import type fc from "fast-check";
import type { ClientOptions, MailSource, SessionResult } from "../../smtp/index.js";
import type { SessionTarget } from "../endpoint.js";
import type { ScriptWriter } from "../plan-script.js";

export type SessionKind = string;
export type TlsMode = "none" | "starttls" | "implicit";

export interface SessionPlan {
  kind: SessionKind;
  /** recipients per transaction */
  rcpts: number;
  /** message body bytes */
  size: number;
  /**
   * transactions in the session, one after the other on the same connection: RSET before the
   * next one only after a refused or abandoned one (a 250 to the final dot already reset the
   * transaction, RFC 5321 4.1.1.4), except for "multi", which sends RSET between all of them.
   * The abort kinds complete all but the last and abort that one; "hold" has none (0).
   */
  transactions: number;
  /** starttls: upgrade when offered; implicit: TLS from the first byte on the target's tlsPort */
  tls: TlsMode;
  /** 6: connect over IPv6 (::1) when the target has an IPv6 endpoint */
  family: 4 | 6;
  /** "hold": idle time after EHLO before QUIT, ms (0 for other kinds) */
  holdMs: number;
  /** "slowloris": pause between dribbled chunks, ms (0 for other kinds) */
  pauseMs: number;
  /** "slowloris": bytes per dribbled chunk (0 for other kinds) */
  chunk: number;
  /** numbers a kind added after these fields draws for itself (absent for the built-in kinds) */
  params?: Readonly<Record<string, number>>;
}

export interface Range {
  min: number;
  max: number;
}

/** The fields every plan draws, whatever its kind: what a kind's plan() starts from. */
export type CommonDraw = Omit<SessionPlan, "holdMs" | "pauseMs" | "chunk" | "params">;

/** A kind's own section of a mix file (`large: {min, max}`), its default and its check. */
export interface MixSection<S = unknown> {
  key: string;
  default: S;
  /** the section from the file (undefined when absent): throws MixError naming what is wrong */
  parse(raw: unknown): S;
  /** the numbers drawn for each plan from the section (fast-check arbitraries, so they shrink) */
  draw(section: S): Record<string, fc.Arbitrary<number>>;
}

export interface KindContext {
  plan: SessionPlan;
  target: SessionTarget;
  /** the engine options of this session: endpoint, greeting, STARTTLS, observer, timer, scheduled start */
  client: ClientOptions;
  mail: MailSource;
  /** an idle hold began (true) or ended (false): storm counts the sessions held at once */
  holding?(on: boolean): void;
  /** aborted when the storm gives up on the session (its hard deadline): a client that can be closed closes */
  signal?: AbortSignal;
}

export interface StormKind<S = unknown> {
  name: SessionKind;
  /** one line for the CLI help */
  summary: string;
  section?: MixSection<S>;
  /** the plan from the common draws and this kind's own (zero what the kind does not use) */
  plan(common: CommonDraw, own: Record<string, number>, section: S): SessionPlan;
  run(ctx: KindContext): Promise<SessionResult>;
  /** the same dialogue as a smtpscript test-case body */
  script(plan: SessionPlan, w: ScriptWriter): void;
  /** simpler variants of a failing plan of this kind, beyond the generic ones (fewer recipients, plainer transport...) */
  simpler?(plan: SessionPlan): SessionPlan[];
  /** true when its dialogue is "basic plus something", so a shrink may try plain basic */
  basicPlus?: boolean;
}

/** A kind unit with its section type checked where it is written, stored without it. */
export function defineKind<S>(k: StormKind<S>): StormKind {
  return k as unknown as StormKind;
}

/** Zero fields of other kinds, so a plan (and a shrunk one) reads as what it does. */
export function plainPlan(common: CommonDraw): SessionPlan {
  // Written out, not spread: one plan per session, and properties after a spread are slow in V8.
  return { kind: common.kind, rcpts: common.rcpts, size: common.size, transactions: common.transactions, tls: common.tls, family: common.family, holdMs: 0, pauseMs: 0, chunk: 0 };
}
