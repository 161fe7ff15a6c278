import net from "node:net";
import { readFileSync } from "node:fs";
import { ipv6LoopbackAvailable, LOOPBACK4, LOOPBACK6 } from "./ipv6.js";

/** The kernel's ephemeral range: where bind(0) and every outgoing connection take their ports. */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (lo !== undefined && hi !== undefined && lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // not Linux: fall through to the IANA default
  }
  return [49152, 65535];
}

function tryListen(port: number, host: string): Promise<number | null> {
  const s = net.createServer();
  return new Promise((resolve) => {
    s.once("error", () => resolve(null));
    s.listen(port, host, () => {
      const got = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(got));
    });
  });
}

/** `port` (0: any) when it is free on 127.0.0.1 and, when the machine has it, on ::1 too. */
async function tryBoth(port: number, v6: boolean): Promise<number | null> {
  const got = await tryListen(port, LOOPBACK4);
  if (got === null || !v6) return got;
  return (await tryListen(got, LOOPBACK6)) === null ? null : got;
}

/**
 * A port that was free on 127.0.0.1 (and on ::1, where targets listen too, when the machine has
 * IPv6 loopback) a moment ago, for daemons that cannot bind port 0 themselves.
 * It is chosen below the ephemeral range when there is room: a port from bind(0) is released
 * before the daemon binds it, and in that gap any client socket or other bind(0) on the machine
 * could take it (a storm next door opens thousands).
 */
export async function freePort(): Promise<number> {
  const v6 = await ipv6LoopbackAvailable();
  const [lo] = ephemeralRange();
  const floor = 10_000;
  if (lo - floor >= 1000) {
    for (let i = 0; i < 50; i++) {
      const candidate = floor + Math.floor(Math.random() * (lo - floor));
      const got = await tryBoth(candidate, v6);
      if (got !== null) return got;
    }
  }
  for (let i = 0; i < 10; i++) {
    const got = await tryBoth(0, v6);
    if (got !== null) return got;
  }
  throw new Error(`no free TCP port on ${LOOPBACK4}${v6 ? ` and ${LOOPBACK6}` : ""}`);
}
