// Who may use the monkey control API. A loopback bind alone is not enough: any web page the
// user visits can send requests to 127.0.0.1 (simple cross-origin POSTs need no preflight) and,
// through DNS rebinding, read the answers. So every request must carry the per-run token, name
// the server by its loopback address in Host, come from no other origin, and send its body as
// JSON (or YAML for a plan), which a page cannot send cross-origin without a preflight.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** Query parameter of the URL `monkey serve` prints; the client sends it as a Bearer token. */
export const TOKEN_PARAM = "token";

export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

export class ControlAuthError extends Error {
  constructor(
    readonly status: 401 | 403 | 415,
    message: string,
  ) {
    super(message);
    this.name = "ControlAuthError";
  }
}

/** Hashing both sides first gives equal lengths, so the comparison time says nothing about the token. */
function sameToken(given: string, token: string): boolean {
  const h = (s: string): Buffer => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(given), h(token));
}

const loopbackHosts = (port: number): string[] => [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];

/** Throws ControlAuthError (403 before 401: a foreign page learns nothing about the token). */
export function checkRequest(req: IncomingMessage, token: string, port: number): void {
  const host = (req.headers.host ?? "").toLowerCase();
  if (!loopbackHosts(port).includes(host)) throw new ControlAuthError(403, `Host "${req.headers.host ?? ""}" is not this server (${loopbackHosts(port).join(", ")})`);
  const origin = req.headers.origin;
  if (origin !== undefined && !loopbackHosts(port).some((h) => origin.toLowerCase() === `http://${h}`)) throw new ControlAuthError(403, `cross-origin request from ${origin} refused`);
  const auth = req.headers.authorization;
  const bearer = auth !== undefined && /^Bearer /i.test(auth) ? auth.slice(7).trim() : null;
  const given = bearer ?? new URL(req.url ?? "/", "http://x").searchParams.get(TOKEN_PARAM);
  if (given === null || given === "") throw new ControlAuthError(401, `missing token: send "Authorization: Bearer TOKEN" or ?${TOKEN_PARAM}=TOKEN (the URL 'monkey serve' printed has it)`);
  if (!sameToken(given, token)) throw new ControlAuthError(401, "wrong token");
}

/** The media types a body may have: JSON everywhere, YAML too where YAML is accepted. */
export function checkContentType(req: IncomingMessage, yaml: boolean): void {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const allowed = ["application/json", ...(yaml ? ["application/yaml", "application/x-yaml", "text/yaml"] : [])];
  if (!allowed.includes(type)) throw new ControlAuthError(415, `Content-Type must be ${allowed.join(" or ")}, got ${type === "" ? "none" : type}`);
}
