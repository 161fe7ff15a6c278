// Bounces among delivered mail. A bounce (a DSN, RFC 3464) is a null-sender message reporting a
// failed delivery: the delivering MTA records the null sender as `Return-Path: <>`, or the
// message comes From: MAILER-DAEMON, or it is a multipart/report of report-type delivery-status.
// It carries the original message's headers (attached or quoted), so the X-Smtpchaos-Id in its
// body says which message bounced. A report whose every Action is not "failed" (a delay warning,
// a success notice) is no bounce, and neither is a message whose own headers carry an id.
import { MESSAGE_ID_HEADER, readMessageId } from "../smtp/message.js";
import type { DeliveredMessage } from "./target.js";

export type ReadMessage =
  /** an ordinary message: its own id */
  | { kind: "message"; id: string | null }
  /** a bounce: the id of the message it reports on (null: none found in what was read) */
  | { kind: "bounce"; id: string | null }
  /** a delivery report that is no failure (delay warning, success notice) */
  | { kind: "notice"; id: string | null };

const NULL_RETURN_PATH = /^Return-Path:[ \t]*<[ \t]*>/im;
const FROM_MAILER_DAEMON = /^From:[^\n]*\bMAILER-DAEMON\b/im;
const DELIVERY_REPORT = /^Content-Type:[ \t]*multipart\/report\b[\s\S]*?report-type[ \t]*=[ \t]*"?delivery-status/im;
const ACTION = /^Action:[ \t]*([A-Za-z]+)/gim;
const BODY_ID = new RegExp(`^${MESSAGE_ID_HEADER}:[ \\t]*(\\S+)`, "im");

/** Whether a message's header section marks it as a delivery report (null sender, MAILER-DAEMON, multipart/report). */
export function isDeliveryReport(head: string): boolean {
  return NULL_RETURN_PATH.test(head) || FROM_MAILER_DAEMON.test(head) || DELIVERY_REPORT.test(head);
}

/**
 * Reads what a delivered (or queued) message is from its first bytes: an ordinary message with
 * its id, or a bounce with the id of the message it reports on.
 */
export function readMessage(raw: Buffer): ReadMessage {
  const text = raw.toString("latin1");
  const endOfHead = text.search(/\r?\n\r?\n/);
  const head = endOfHead === -1 ? text : text.slice(0, endOfHead);
  // A message whose own headers carry an id is that message (a report's own headers never carry
  // one), whatever its sender: some deliveries record the null sender for ordinary mail.
  const own = readMessageId(head);
  if (own !== null || !isDeliveryReport(head)) return { kind: "message", id: own === null ? null : readMessageId(raw) };
  const body = endOfHead === -1 ? "" : text.slice(endOfHead);
  const actions = [...body.matchAll(ACTION)].map((m) => (m[1] as string).toLowerCase());
  const m = BODY_ID.exec(body);
  // decode just the id's bytes (a substring would keep the whole head alive)
  const id = m === null ? null : raw.toString("latin1", endOfHead + m.index + m[0].length - (m[1] as string).length, endOfHead + m.index + m[0].length);
  const kind = actions.length > 0 && !actions.includes("failed") ? "notice" : "bounce";
  return { kind, id };
}

/** A delivered file as the Target interface gives it: a bounce has `bounceOf`, the id of the message it reports on. */
export function deliveredMessage(location: string, data: Buffer): DeliveredMessage {
  const m = readMessage(data.subarray(0, Math.min(data.length, 256 * 1024)));
  const own = m.kind === "message" ? m.id : readMessageId(data);
  return { id: own, location, size: data.length, data, ...(m.kind === "bounce" ? { bounceOf: m.id } : {}) };
}
