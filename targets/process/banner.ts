import { SmtpSession } from "../../smtp/session.js";

export interface BannerWait {
  /** false once the daemon has exited */
  alive: () => boolean;
  /** whether the daemon itself holds the listening socket (a greeting from another program proves nothing) */
  owned?: () => boolean;
}

/** Polls until the daemon greets with 220 (or the deadline passes), returning the banner line. */
export async function waitForBanner(host: string, port: number, timeoutMs: number, w: BannerWait): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "no attempt";
  while (Date.now() < deadline) {
    if (!w.alive()) throw new Error(`the daemon exited before greeting on ${host}:${port}`);
    try {
      const s = await SmtpSession.connect({ host, port, timeoutMs: 2000, transcript: null });
      try {
        const r = await s.readReply(undefined, "banner");
        if (r.code !== 220) last = `greeted with ${r.code} ${r.text}`;
        else if (w.owned !== undefined && !w.owned()) last = `${host}:${port} greets with "${r.code} ${r.text}" but the listener is not the daemon's (another program holds the port)`;
        else return `${r.code} ${r.text}`;
      } finally {
        await s.quit();
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no 220 banner from the daemon on ${host}:${port} within ${timeoutMs} ms (last: ${last})`);
}
