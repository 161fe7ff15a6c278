// The one line the embedded daemon prints once it listens: READY_PREFIX + {"port","tlsPort","pid"}.
export const READY_PREFIX = "SMTPCHAOS_READY ";
