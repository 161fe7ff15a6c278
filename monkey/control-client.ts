// Client of the monkey control API (monkey/control-server.ts), used by the CLI and by smtpscript
// (`--monkey URL`): the same calls a CI job would make with curl. The URL is the one
// `monkey serve` prints, with its token (?token=...); the token travels as a Bearer header.
import { UserError } from "../common/errors.js";
import { request } from "undici";
import type { ScriptFaults } from "../smtpscript/runner.js";
import { TOKEN_PARAM } from "./control-auth.js";

export class ControlApiError extends UserError {}

/** Where the token comes from when the URL has none (keeps it off command lines). */
export const TOKEN_ENV = "SMTPCHAOS_MONKEY_TOKEN";

export class ControlClient {
  /** the URL without its token: what error messages show */
  readonly baseUrl: string;
  private readonly token: string;

  constructor(url: string) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new ControlApiError(`not a URL: "${url}" (expected the URL 'smtpchaos monkey serve' printed, http://127.0.0.1:PORT/?${TOKEN_PARAM}=...)`);
    }
    if (u.protocol !== "http:") throw new ControlApiError(`monkey control URL must be http://, got ${u.protocol}//${u.host}`);
    const token = u.searchParams.get(TOKEN_PARAM) ?? process.env[TOKEN_ENV] ?? "";
    if (token === "") throw new ControlApiError(`${u.origin}: no token; use the whole URL 'smtpchaos monkey serve' printed (…/?${TOKEN_PARAM}=...) or set ${TOKEN_ENV}`);
    this.token = token;
    this.baseUrl = u.origin;
  }

  private async call<T>(method: "GET" | "PUT" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
    let res;
    try {
      // A string is a plan file's text: YAML (JSON is YAML too).
      const type = typeof body === "string" ? "application/yaml" : "application/json";
      res = await request(new URL(path, this.baseUrl), {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { "content-type": type } : {}) },
        ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
    } catch (err) {
      throw new ControlApiError(`monkey control API at ${this.baseUrl} unreachable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let json: T & { error?: string };
    try {
      json = (await res.body.json()) as T & { error?: string };
    } catch (err) {
      throw new ControlApiError(`monkey control API at ${this.baseUrl}: HTTP ${res.statusCode} with a body that is not JSON (${(err as Error).message})`);
    }
    if (res.statusCode >= 400) throw new ControlApiError(`${json.error ?? "error"} (HTTP ${res.statusCode})`);
    return json;
  }

  points(): Promise<{ target: string; endpoint: { host: string; port: number }; points: string[]; plan: string[] }> {
    return this.call("GET", "/v1/points");
  }

  plan(): Promise<unknown> {
    return this.call("GET", "/v1/plan");
  }

  /** A plan document as an object, or JSON/YAML text. */
  setPlan(doc: unknown): Promise<{ plan: string[] }> {
    return this.call("PUT", "/v1/plan", doc);
  }

  clearPlan(): Promise<{ plan: string[] }> {
    return this.call("DELETE", "/v1/plan");
  }

  statement(args: readonly string[]): Promise<{ plan: string[] }> {
    return this.call("POST", "/v1/script", { args });
  }

  stats(): Promise<unknown> {
    return this.call("GET", "/v1/stats");
  }
}

/** smtpscript `monkey` statements against a target run by `smtpchaos monkey serve`. */
export async function remoteScriptFaults(url: string): Promise<ScriptFaults> {
  const client = new ControlClient(url);
  const { points } = await client.points();
  return {
    points,
    apply: async (args) => {
      await client.statement(args);
    },
    clear: async () => {
      await client.clearPlan();
    },
  };
}
