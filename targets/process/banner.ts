import { SmtpSession } from "../../smtp/session.js";

/** Polls until the server greets with 220 (or the deadline passes), returning the banner line. */
export async function waitForBanner(host: string, port: number, timeoutMs: number, alive: () => boolean): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "no attempt";
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`the daemon exited before greeting on ${host}:${port}`);
    try {
      const s = await SmtpSession.connect({ host, port, timeoutMs: 2000, transcript: null });
      try {
        const r = await s.readReply(undefined, "banner");
        if (r.code === 220) return `${r.code} ${r.text}`;
        last = `greeted with ${r.code} ${r.text}`;
      } finally {
        await s.quit();
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no 220 banner on ${host}:${port} within ${timeoutMs} ms (last: ${last})`);
}
