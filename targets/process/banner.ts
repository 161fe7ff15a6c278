// A daemon is up once it greets: poll the one banner probe until it does, or give up.
import { BannerProbeError, probeBanner } from "../../smtp/probe.js";
import type { TargetStatus } from "../target.js";

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
      const r = await probeBanner(host, port, { timeoutMs: 2000 });
      if (w.owned === undefined || w.owned()) return `${r.code} ${r.text}`;
      last = `${host}:${port} greets with "${r.code} ${r.text}" but the listener is not the daemon's (another program holds the port)`;
    } catch (err) {
      last = err instanceof BannerProbeError ? err.reason : (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no 220 banner from the daemon on ${host}:${port} within ${timeoutMs} ms (last: ${last})`);
}

/** A status report's banner: the greeting whatever its code, or why there was none. */
export async function bannerStatus(host: string, port: number): Promise<NonNullable<TargetStatus["banner"]>> {
  try {
    const r = await probeBanner(host, port, { timeoutMs: 3000, requireReady: false });
    return { ok: true, line: `${r.code} ${r.text}` };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
