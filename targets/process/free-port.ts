import net from "node:net";
import { readFileSync } from "node:fs";

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

function tryListen(port: number): Promise<number | null> {
  const s = net.createServer();
  return new Promise((resolve) => {
    s.once("error", () => resolve(null));
    s.listen(port, "127.0.0.1", () => {
      const got = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(got));
    });
  });
}

/**
 * A port that was free on 127.0.0.1 a moment ago, for daemons that cannot bind port 0 themselves.
 * It is chosen below the ephemeral range when there is room: a port from bind(0) is released
 * before the daemon binds it, and in that gap any client socket or other bind(0) on the machine
 * could take it (a storm next door opens thousands).
 */
export async function freePort(): Promise<number> {
  const [lo] = ephemeralRange();
  const floor = 10_000;
  if (lo - floor >= 1000) {
    for (let i = 0; i < 50; i++) {
      const candidate = floor + Math.floor(Math.random() * (lo - floor));
      const got = await tryListen(candidate);
      if (got !== null) return got;
    }
  }
  const got = await tryListen(0);
  if (got === null) throw new Error("no free TCP port on 127.0.0.1");
  return got;
}
