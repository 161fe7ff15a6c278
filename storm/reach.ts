// Did anything connect? A storm (or merged parts) where no session ever got a connection says
// the target is unreachable: a wrong port or a server down is a usage problem, not a load result.
import type { Metrics } from "./metrics.js";
import type { SessionTarget } from "./endpoint.js";
import type { Mix } from "./plan.js";

/** Evidence that at least one session connected: a timed connect (wire kinds), a handshake
 * (the well-behaved client), any reply code, an accepted message, or an end that needs a
 * connection (anything but refused, timeout, local and overdue). */
export function anyConnected(m: Metrics): boolean {
  if ((m.phases.get("connect")?.count ?? 0) > 0 || (m.phases.get("handshake")?.count ?? 0) > 0) return true;
  if (m.accepted > 0 || m.codes.size > 0) return true;
  const noConnection = m.count("refused") + m.count("timeout") + m.count("local") + m.count("overdue");
  return m.sessions - noConnection > 0;
}

/** Why `where` is unreachable, or null when a session connected (or none ran). */
export function unreachableText(m: Metrics, where: string, stoppedEarly?: string): string | null {
  if (m.sessions === 0 || anyConnected(m)) return null;
  if (m.count("local") === m.sessions) return `no session could open a socket on this machine (${m.sessions} tried; file descriptor limit or ephemeral ports)`;
  const why = stoppedEarly ?? `none of ${m.sessions} sessions connected (${m.count("refused")} refused, ${m.count("timeout")} timed out${m.count("overdue") > 0 ? `, ${m.count("overdue")} overdue` : ""})`;
  return `${where} unreachable: ${why}`;
}

/** The endpoints sessions connect to, as the unreachable message names them. */
export function whereOf(target: SessionTarget, mix: Mix): string {
  const hp = (h: string, port: number): string => `${h.includes(":") ? `[${h}]` : h}:${port}`;
  const plain = mix.implicitTls < 1 || target.tlsPort === undefined;
  const out: string[] = [];
  if (plain) out.push(hp(target.host, target.port));
  if (mix.implicitTls > 0 && target.tlsPort !== undefined) out.push(`${hp(target.host, target.tlsPort)} (implicit TLS)`);
  return out.join(" and ");
}
