// Where and how a storm session connects, what it sends, and how the engine's steps reach the
// storm's metrics: the pieces every kind shares.
import net from "node:net";
import { memoized } from "../common/memo.js";
import { PreparedMessage, buildMessage } from "../smtp/index.js";
import type { ClientOptions, MailSource, StepObserver, Transaction } from "../smtp/index.js";
import type { Metrics, Phase } from "./metrics.js";
import type { SessionPlan } from "./kinds/kind.js";
import { wheel } from "./wheel.js";

export interface SessionTarget {
  host: string;
  port: number;
  rcpt: string;
  timeoutMs: number;
  /** implicit-TLS (SMTPS) port, when the server listens on one */
  tlsPort?: number;
  /** an IPv6 address of the same server (e.g. "::1"), with its ports when they differ */
  host6?: string;
  port6?: number;
  tlsPort6?: number;
  /** AUTH credentials for the well-behaved client (used only when the server offers AUTH) */
  auth?: { user: string; pass: string };
  /** IPv4 source addresses, used in turn (more sessions than one source has ephemeral ports) */
  sources?: readonly string[];
}

let nextSource = 0;

export const CLIENT_NAME = "storm.client.example";
export const SENDER = "storm@client.example";

/** Where a plan connects: its address family and TLS mode, falling back (and counting it) when the target lacks one. */
export function endpointFor(plan: SessionPlan, t: SessionTarget, m: Pick<StepObserver, "transport"> | null): { host: string; port: number; implicit: boolean } {
  let host = t.host;
  let port = t.port;
  let tlsPort = t.tlsPort;
  if (plan.family === 6 && t.host6 !== undefined) {
    host = t.host6;
    port = t.port6 ?? t.port;
    tlsPort = t.tlsPort6 ?? t.tlsPort;
    m?.transport?.("ipv6");
  } else {
    if (plan.family === 6) m?.transport?.("ipv6-unavailable");
    m?.transport?.("ipv4");
  }
  if (plan.tls === "implicit") {
    if (tlsPort !== undefined) {
      m?.transport?.("implicit-tls");
      return { host, port: tlsPort, implicit: true };
    }
    m?.transport?.("implicit-tls-unavailable");
  }
  return { host, port, implicit: false };
}

/** Where and how a plan's session connects: its endpoint, TLS mode and (IPv4) source address in turn. */
function connection(plan: SessionPlan, target: SessionTarget, observer: StepObserver | null): Pick<ClientOptions, "host" | "port" | "implicitTls" | "starttls" | "localAddress"> {
  const ep = endpointFor(plan, target, observer);
  return { host: ep.host, port: ep.port, implicitTls: ep.implicit, starttls: plan.tls === "starttls", localAddress: sourceFor(ep.host, target) };
}

function sourceFor(host: string, target: SessionTarget): string | undefined {
  const sources = target.sources;
  return sources !== undefined && sources.length > 0 && net.isIPv4(host) ? sources[nextSource++ % sources.length] : undefined;
}

/** `base` aimed at the plan's endpoint, with its STARTTLS. */
export function planClient(plan: SessionPlan, target: SessionTarget, base: ClientOptions): ClientOptions {
  return Object.assign({}, base, connection(plan, target, base.observer ?? null));
}

const wheelSleep = (ms: number): Promise<void> => wheel.sleep(ms);

/**
 * A storm session's engine options: no transcript (load generation), the timer wheel, latency
 * from the scheduled start. One object per session: it lives as long as the session.
 * Written out field by field: in V8 (Node 20) an object literal with properties after a spread
 * takes a slow path, about 0.5 µs per property, and this runs once per session.
 */
export function clientOptions(plan: SessionPlan, target: SessionTarget, observer: StepObserver, scheduledAt: number): ClientOptions {
  const ep = endpointFor(plan, target, observer);
  return {
    host: ep.host,
    port: ep.port,
    implicitTls: ep.implicit,
    starttls: plan.tls === "starttls",
    localAddress: sourceFor(ep.host, target),
    timeoutMs: target.timeoutMs,
    helo: CLIENT_NAME,
    transcript: null,
    observer,
    scheduledAt,
    sleep: wheelSleep,
  };
}

/** Engine steps onto storm phases: an RSET or another command counts with MAIL, as the dialogue's overhead, a garbage line as its own; QUIT is not measured. One per storm. */
export const metricsObserver = memoized(observerOf);

function observerOf(m: Metrics): StepObserver {
  const phase = (step: string): Phase | null => (step === "quit" ? null : step === "rset" || step === "command" ? "mail" : (step as Phase));
  return {
    timed(step, ms) {
      const p = phase(step);
      if (p !== null) m.phase(p, ms);
    },
    reply(step, r) {
      const p = phase(step);
      if (p !== null) m.code(p, r.code, r.enhanced);
    },
    transport(what) {
      m.transport(what);
    },
  };
}

/** Messages already built, by size and recipient: a storm of one size builds one. */
const prepared = new Map<string, PreparedMessage>();
const PREPARED_MAX = 64;

function preparedFor(rcpt: string, size: number): PreparedMessage {
  const key = `${size} ${rcpt}`;
  let p = prepared.get(key);
  if (p === undefined) {
    if (prepared.size >= PREPARED_MAX) prepared.delete(prepared.keys().next().value as string);
    p = new PreparedMessage(buildMessage({ from: SENDER, to: [rcpt], size, date: new Date(0) }).data);
    prepared.set(key, p);
  }
  return p;
}

/**
 * Storm's mail: the same message again and again (one Message-ID), as smtp-source sends it:
 * building and dot-stuffing it costs more than the rest of the client's work for a small message.
 */
export const stormMail = memoized(mailFor);

/** One per storm: recipient lists by count, messages by size. */
function mailFor(target: SessionTarget): MailSource {
  const lists = new Map<number, string[]>();
  return {
    transaction(_i, rcpts, size, how = {}): Transaction {
      let to = lists.get(rcpts);
      if (to === undefined) {
        to = Array.from({ length: rcpts }, () => target.rcpt);
        if (lists.size < 256) lists.set(rcpts, to);
      }
      return {
        from: SENDER,
        to,
        ...(how.abort !== undefined ? { abort: how.abort } : {}),
        message: () => {
          if (how.streamed === true) return { head: buildMessage({ from: SENDER, to: [target.rcpt], size: 0, date: new Date(0) }).data, size };
          return preparedFor(target.rcpt, size);
        },
      };
    },
  };
}
