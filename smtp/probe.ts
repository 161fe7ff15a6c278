// The one banner probe: connect, read the greeting, QUIT. Whatever asks "is a server up?" (a
// target starting or reporting its status, `target status`, the monkey's startup probe) asks
// it here, so every failure reads alike: host:port, then the reason.
import { SmtpSession } from "./session.js";
import { SmtpConnectError, SmtpError, formatHostPort } from "./errors.js";
import type { Reply } from "./reply.js";
import { visible } from "../common/visible.js";

export class BannerProbeError extends Error {
  override readonly name = "BannerProbeError";
  constructor(
    /** host:port ([host]:port for IPv6) */
    readonly where: string,
    /** why, without the address: "cannot connect: ECONNREFUSED", "not ready for mail: it greeted with 421 ..." */
    readonly reason: string,
  ) {
    super(`${where}: ${reason}`);
  }
}

export interface ProbeOptions {
  /** for the connect and for the banner each, ms */
  timeoutMs: number;
  /** false: any greeting is an answer (a status report shows a 421 too); default: only 220 */
  requireReady?: boolean;
}

/** The server's greeting; a BannerProbeError when there is none (or, by default, when it is not 220). */
export async function probeBanner(host: string, port: number, o: ProbeOptions): Promise<Reply> {
  const where = formatHostPort(host, port);
  let s: SmtpSession;
  try {
    s = await SmtpSession.connect({ host, port, timeoutMs: o.timeoutMs, transcript: null });
  } catch (err) {
    throw probeError(where, err);
  }
  let ok = false;
  try {
    const banner = await s.readReply(o.timeoutMs, "banner");
    if (o.requireReady !== false && banner.code !== 220) throw new BannerProbeError(where, `not ready for mail: it greeted with ${banner.code} ${visible(banner.text)}`);
    ok = true;
    return banner;
  } catch (err) {
    throw probeError(where, err);
  } finally {
    // QUIT only a server that behaved; a broken one is just closed.
    if (ok) await s.quit();
    else s.close();
  }
}

function probeError(where: string, err: unknown): unknown {
  if (err instanceof BannerProbeError || !(err instanceof SmtpError)) return err;
  // the wire layer names the peer in some messages and not in others: one shape for all
  const why = err instanceof SmtpConnectError ? `cannot connect: ${err.code}` : err.message.replace(`${where}: `, "");
  return new BannerProbeError(where, why);
}
