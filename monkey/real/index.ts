// How a real target is started with its fault wiring; the surface itself is the target's
// faultSurface() (monkey/real/wiring.ts).

/**
 * Target options with the fault wiring on when `faults: true`: libfiu in OpenSMTPD's queue role /
 * Postfix's cleanup service, and lookups decided in this process. Explicit fiu/lookups options
 * win. smtpscript runs (bind-target) and the monkey ask for it; storms and plain starts do not,
 * so their numbers are not measured through the lookup server.
 */
export function withFaultWiring(target: "opensmtpd" | "postfix", options: Record<string, unknown>): Record<string, unknown> {
  if (options.faults !== true) return options;
  const fiu = target === "opensmtpd" ? { roles: ["queue"] } : { services: ["cleanup"] };
  return { fiu, lookups: true, ...options };
}

