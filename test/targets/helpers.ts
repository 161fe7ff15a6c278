// Sends one message through the wire layer and returns its ledger id with the final reply.
import { existsSync } from "node:fs";
import { SmtpSession, buildMessage } from "../../smtp/index.js";
import type { Reply } from "../../smtp/index.js";

export async function sendOne(host: string, port: number, rcpt: string, opts: { size?: number } = {}): Promise<{ id: string; replies: Reply[] }> {
  const s = await SmtpSession.connect({ host, port, timeoutMs: 10_000 });
  const replies: Reply[] = [];
  const msg = buildMessage({ from: "sender@client.example", to: [rcpt], size: opts.size ?? 200 });
  try {
    replies.push(await s.readReply(undefined, "banner"));
    replies.push((await s.ehlo("client.example")).reply);
    for (const line of ["MAIL FROM:<sender@client.example>", `RCPT TO:<${rcpt}>`, "DATA"]) {
      const r = await s.command(line);
      replies.push(r);
      if (r.klass !== "ok" && r.klass !== "intermediate") return { id: msg.id, replies };
    }
    replies.push(await s.sendData(msg.data));
    return { id: msg.id, replies };
  } finally {
    await s.quit();
  }
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Whether a real MTA can be tested here. In CI (CI set) a missing MTA must fail the test, so
 * `skip` is false there and the test calls `requireMta` to fail with the reason.
 */
export function mtaAvailability(name: string, binary: string): { why: string | null; skip: string | false } {
  const why = process.getuid?.() !== 0 ? "needs root" : !existsSync(binary) ? `${binary} missing (run 'npm run setup:mtas')` : null;
  return { why, skip: why !== null && process.env.CI === undefined ? `${name}: ${why}` : false };
}

export function requireMta(name: string, why: string | null): void {
  if (why !== null) throw new Error(`${name} is required in CI: ${why}`);
}
