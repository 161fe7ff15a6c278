// The embedded MTA's bounce: a delivery status notification (RFC 3464, multipart/report) from
// MAILER-DAEMON to the original sender, sent with the null sender, carrying the original's
// headers (text/rfc822-headers), as Postfix's does.
import { randomBytes } from "node:crypto";

export interface BounceInput {
  hostname: string;
  /** the original message's queue id */
  queueId: string;
  sender: string;
  failed: readonly string[];
  /** enhanced status code and text, e.g. "5.1.1 no such user here" */
  reason: string;
  /** the original message as queued */
  original: Buffer;
}

export function buildBounce(b: BounceInput): Buffer {
  const boundary = `${b.queueId}.${randomBytes(4).toString("hex")}/${b.hostname}`;
  const text = b.original.toString("latin1");
  const end = text.search(/\r?\n\r?\n/);
  const headers = (end === -1 ? text : text.slice(0, end)).replace(/\r?\n/g, "\r\n");
  const status = /^\d\.\d{1,3}\.\d{1,3}/.exec(b.reason)?.[0] ?? "5.0.0";
  const lines = [
    `From: Mail Delivery System <MAILER-DAEMON@${b.hostname}>`,
    `To: <${b.sender}>`,
    "Subject: Undelivered Mail Returned to Sender",
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${b.queueId}.bounce.${randomBytes(4).toString("hex")}@${b.hostname}>`,
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    `This is the mail system at host ${b.hostname}.`,
    "",
    "Your message could not be delivered to one or more recipients:",
    "",
    ...b.failed.map((r) => `<${r}>: ${b.reason}`),
    "",
    `--${boundary}`,
    "Content-Type: message/delivery-status",
    "",
    `Reporting-MTA: dns; ${b.hostname}`,
    `X-Queue-ID: ${b.queueId}`,
    "",
    ...b.failed.flatMap((r) => [`Final-Recipient: rfc822; ${r}`, "Action: failed", `Status: ${status}`, `Diagnostic-Code: X-smtpchaos; ${b.reason}`, ""]),
    `--${boundary}`,
    "Content-Type: text/rfc822-headers",
    "",
    headers,
    "",
    `--${boundary}--`,
    "",
  ];
  return Buffer.from(lines.join("\r\n"), "latin1");
}
