// A real target may relay one domain to a next hop (the monkey's flaky next hop). Nothing may be
// relayed off this machine, and the targets resolve no names (OpenSMTPD's resolver is fenced
// with `lookup file`, Postfix runs without DNS), so the hop is an IPv4 loopback literal.
import net from "node:net";
import { assertLoopback, RemoteTargetError } from "../../common/loopback.js";

/** Relay mail for `domain` (and only it) to host:port over plain SMTP. */
export interface RelayTo {
  domain: string;
  /** an IPv4 loopback literal, e.g. 127.0.0.1 */
  host: string;
  port: number;
}

export class RelayConfigError extends Error {}

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

/**
 * Refuses a relay that could leave this host or that the target cannot reach without a lookup.
 * The domain ends up inside the MTA's configuration, so it must be a plain host name.
 */
export function checkRelay(relay: RelayTo, target: { name: string; domain: string }): RelayTo {
  const what = `${target.name}: relay of ${relay.domain} to ${relay.host}:${relay.port}`;
  try {
    assertLoopback(relay.host, false);
  } catch (err) {
    if (err instanceof RemoteTargetError) throw new RemoteTargetError(`${what} refused: the next hop must be a loopback address, nothing may be relayed off this machine`, { cause: err });
    throw err;
  }
  if (!net.isIPv4(relay.host)) {
    throw new RelayConfigError(`${what} refused: give an IPv4 literal such as 127.0.0.1 (the target resolves no names and speaks IPv4 only)`);
  }
  if (!Number.isInteger(relay.port) || relay.port < 1 || relay.port > 65535) throw new RelayConfigError(`${what} refused: port must be 1-65535`);
  if (!DOMAIN.test(relay.domain)) throw new RelayConfigError(`${what} refused: "${relay.domain}" is not a plain domain name`);
  if (relay.domain.toLowerCase() === target.domain.toLowerCase()) throw new RelayConfigError(`${what} refused: ${target.domain} is delivered locally`);
  return relay;
}
