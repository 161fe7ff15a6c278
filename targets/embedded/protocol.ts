// The one line the embedded daemon (and targets/host.ts) prints once it listens: READY_PREFIX + JSON.
export const READY_PREFIX = "SMTPCHAOS_READY ";

export interface ReadyLine {
  port: number;
  tlsPort: number | null;
  /** the IPv6 address it also listens on (same ports), null when IPv4 only; absent from older daemons */
  host6?: string | null;
  pid: number;
  /** targets/host.ts only */
  mailboxes?: string[];
}
