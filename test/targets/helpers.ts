// Sends one message through the wire layer and returns its ledger id with the final reply.
import { existsSync } from "node:fs";
import { PreparedMessage, buildMessage, runSmtpSession } from "../../smtp/index.js";
import type { Reply } from "../../smtp/index.js";

export async function sendOne(host: string, port: number, rcpt: string, opts: { size?: number; from?: string } = {}): Promise<{ id: string; replies: Reply[] }> {
  const replies: Reply[] = [];
  let failure: Error | null = null;
  const from = opts.from ?? "sender@client.example";
  const msg = buildMessage({ from, to: [rcpt], size: opts.size ?? 200 });
  await runSmtpSession({
    host,
    port,
    timeoutMs: 10_000,
    helo: "client.example",
    quitAfterRefusal: true,
    observer: { reply: (step, r) => void (step !== "quit" && replies.push(r)), failed: (step, err) => void (step !== "quit" && (failure ??= err)) },
    transactions: 1,
    transaction: () => ({ from, to: [rcpt], message: () => new PreparedMessage(msg.data) }),
  });
  // A session that broke off (no reply to a step) fails, as a caller reading replies would.
  if (failure !== null) throw failure;
  return { id: msg.id, replies };
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
