// Client of the monkey control API (monkey/control-server.ts), used by the CLI and by smtpscript
// (`--monkey URL`): the same calls a CI job would make with curl.
import { request } from "undici";
import type { ScriptFaults } from "../smtpscript/runner.js";

export class ControlApiError extends Error {}

export class ControlClient {
  constructor(readonly baseUrl: string) {
    const u = new URL(baseUrl);
    if (u.protocol !== "http:") throw new ControlApiError(`monkey control URL must be http://, got ${baseUrl}`);
  }

  private async call<T>(method: "GET" | "PUT" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
    let res;
    try {
      res = await request(new URL(path, this.baseUrl), {
        method,
        ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
    } catch (err) {
      throw new ControlApiError(`monkey control API at ${this.baseUrl} unreachable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const json = (await res.body.json()) as T & { error?: string };
    if (res.statusCode >= 400) throw new ControlApiError(json.error ?? `HTTP ${res.statusCode}`);
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
