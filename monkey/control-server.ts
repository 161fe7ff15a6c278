// The monkey's HTTP control API, on loopback only, for holders of the per-run token
// (control-auth.ts says why and how; the printed URL carries it as ?token=):
//   GET    /v1/points   fault points of the target (also by fault layer), and the plan in force
//   GET    /v1/plan     the plan document
//   PUT    /v1/plan     replace the plan (JSON or YAML body); 400 lists every problem
//   DELETE /v1/plan     no faults
//   POST   /v1/script   {"args": ["fail", "queue.open", "once"]}: an smtpscript `monkey` statement
//   GET    /v1/stats    per-point counters, the run window, and the runner's live counts
import http from "node:http";
import type { AddressInfo } from "node:net";
import { PlanError, describeSpec, parseJsonOrYaml } from "./plan.js";
import type { Injector } from "./injector.js";
import { StatementError } from "./controller.js";
import { pointsByLayer } from "./layers/registry.js";
import type { PlanController } from "./controller.js";
import { ControlAuthError, TOKEN_PARAM, checkContentType, checkRequest, newToken } from "./control-auth.js";

export interface ControlServerOptions {
  controller: PlanController;
  injector: Injector;
  target: { name: string; endpoint: { host: string; port: number } };
  /** extra live state for /v1/stats (the runner's counts) */
  live?: () => unknown;
  port?: number;
  /** the secret every request must carry; a fresh random one by default */
  token?: string;
}

const MAX_BODY = 1 << 20;

export class ControlServer {
  private server: http.Server | null = null;
  readonly token: string;

  constructor(private readonly o: ControlServerOptions) {
    this.token = o.token ?? newToken();
  }

  private get port(): number {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (!a) throw new Error("control server is not listening");
    return a.port;
  }

  /** The URL to give clients: it carries the token (keep it as private as the API it opens). */
  get url(): string {
    return `http://127.0.0.1:${this.port}/?${TOKEN_PARAM}=${this.token}`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (err instanceof ControlAuthError) return send(res, err.status, { error: err.message });
        if (err instanceof BodyError) return send(res, 400, { error: err.message });
        send(res, 500, { error: (err as Error).message });
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.o.port ?? 0, "127.0.0.1", () => resolve());
    });
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s === null) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    checkRequest(req, this.token, this.port);
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const c = this.o.controller;
    const route = `${req.method ?? "GET"} ${path}`;
    switch (route) {
      case "GET /v1/points":
        return send(res, 200, {
          target: this.o.target.name,
          endpoint: this.o.target.endpoint,
          points: c.points,
          layers: pointsByLayer(c.points),
          plan: c.plan().points.map(describeSpec),
        });
      case "GET /v1/plan":
        return send(res, 200, c.document());
      case "PUT /v1/plan":
        return this.change(res, async () => c.set(await readObject(req, true)));
      case "DELETE /v1/plan":
        return this.change(res, async () => c.clear());
      case "POST /v1/script": {
        const body = (await readObject(req, false)) as { args?: unknown };
        if (!Array.isArray(body.args) || !body.args.every((a) => typeof a === "string")) return send(res, 400, { error: 'expected {"args": ["fail", "POINT", "once"]}' });
        return this.change(res, async () => c.apply(body.args as string[]));
      }
      case "GET /v1/stats":
        return send(res, 200, { window: this.o.injector.window(), points: this.o.injector.stats(), live: this.o.live?.() ?? null });
      default:
        return send(res, 404, { error: `no route ${route}` });
    }
  }

  private async change(res: http.ServerResponse, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof PlanError) return send(res, 400, { error: err.message, issues: err.issues });
      if (err instanceof StatementError || err instanceof BodyError) return send(res, 400, { error: err.message });
      throw err;
    }
    send(res, 200, { plan: this.o.controller.plan().points.map(describeSpec) });
  }
}

class BodyError extends Error {}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + "\n";
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_BODY) throw new BodyError(`request body over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The request's body as an object: 415 for another media type, 400 when empty, null or not an object. */
async function readObject(req: http.IncomingMessage, yaml: boolean): Promise<Record<string, unknown>> {
  checkContentType(req, yaml);
  const text = await readBody(req);
  if (text.trim() === "") throw new BodyError("empty body: expected a JSON object");
  let body: unknown;
  try {
    body = yaml ? parseJsonOrYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new BodyError(`body does not parse as ${yaml ? "JSON or YAML" : "JSON"}: ${(err as Error).message}`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new BodyError(`expected a JSON object, got ${body === null ? "null" : Array.isArray(body) ? "an array" : typeof body}`);
  return body as Record<string, unknown>;
}
