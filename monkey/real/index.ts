// The fault surface of a real target: what it was started with (libfiu roles/services, monkey
// lookups) plus process faults on its roles. Each target builds it (faultSurface, faults).
import { OpenSmtpdTarget } from "../../targets/opensmtpd/target.js";
import { PostfixTarget } from "../../targets/postfix/target.js";
import type { Target } from "../../targets/target.js";
import type { RealFaultSurface } from "./surface.js";

/** The fault surface of an OpenSMTPD or Postfix target; null for targets that are not real MTAs. */
export function realFaultSurface(target: Target): RealFaultSurface | null {
  if (target instanceof OpenSmtpdTarget || target instanceof PostfixTarget) return target.faultSurface();
  return null;
}

/**
 * Target options with the fault wiring on when `faults: true` (or `monkey: true`, what the monkey
 * runner asks for): libfiu in OpenSMTPD's queue role /
 * Postfix's cleanup service, and lookups decided in this process. Explicit fiu/lookups options
 * win. smtpscript runs ask for it (bind-target); storms and plain starts do not, so their numbers
 * are not measured through the lookup server.
 */
export function withFaultWiring(target: "opensmtpd" | "postfix", options: Record<string, unknown>): Record<string, unknown> {
  if (options.faults !== true && options.monkey !== true) return options;
  const fiu = target === "opensmtpd" ? { roles: ["queue"] } : { services: ["cleanup"] };
  return { fiu, lookups: true, ...options };
}

export { RealFaultSurface } from "./surface.js";
export { RealScriptFaults } from "./script-faults.js";
