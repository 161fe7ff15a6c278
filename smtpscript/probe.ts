// One session to learn a server's EHLO keywords (implicit TLS when the run uses it): for
// `requires capability` and for the suites' sizes from SIZE.
import { SmtpSession } from "../smtp/session.js";
import type { Capabilities } from "../smtp/capabilities.js";
import type { ServerAddress } from "./runner.js";

export async function probeCapabilities(server: ServerAddress, timeoutMs: number): Promise<Capabilities> {
  const s = await SmtpSession.connect({ host: server.host, port: server.port, tls: server.tls === true ? "implicit" : "none", timeoutMs, transcript: null, ...server.tlsOptions });
  try {
    await s.readReply(undefined, "banner");
    const { capabilities } = await s.ehlo("smtpchaos.test");
    return capabilities;
  } finally {
    await s.quit();
  }
}
