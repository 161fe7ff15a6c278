// Whether this machine has IPv6 loopback. With IPv6 turned off (sysctl disable_ipv6 on lo, or a
// kernel booted with ipv6.disable=1) binding ::1 fails with EADDRNOTAVAIL or EAFNOSUPPORT; the
// targets then listen on 127.0.0.1 only and leave Endpoint.host6 unset.
import net from "node:net";

export const LOOPBACK4 = "127.0.0.1";
export const LOOPBACK6 = "::1";

/** A bind error that means "this machine has no ::1", as opposed to "the port is taken". */
export function isNoIpv6(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === "EADDRNOTAVAIL" || code === "EAFNOSUPPORT";
}

let cached: Promise<boolean> | null = null;

/** Binds ::1 once (any port) to find out; the answer is kept for the life of the process. */
export function ipv6LoopbackAvailable(): Promise<boolean> {
  cached ??= new Promise<boolean>((resolve, reject) => {
    const s = net.createServer();
    s.once("error", (err) => {
      if (isNoIpv6(err)) resolve(false);
      else reject(new Error(`cannot tell whether ${LOOPBACK6} is usable: ${err.message}`, { cause: err }));
    });
    s.listen(0, LOOPBACK6, () => s.close(() => resolve(true)));
  }).catch((err: unknown) => {
    cached = null; // e.g. EMFILE: ask again next time
    throw err;
  });
  return cached;
}
