// `--target NAME | --host H --port P`, read one way by every CLI: the two are exclusive, a
// target must exist (checked before anything runs), a host must be loopback unless
// --allow-remote. What each tool does with the choice (start it, fault it, flood it) is its own.
import { parsePort } from "../common/args.js";
import { assertLoopback } from "../common/loopback.js";
import { UsageError } from "../common/errors.js";
import { targetPlugin } from "./registry.js";

export type ServerChoice = { target: string } | { host: string; port: number };

export interface ServerFlags {
  target?: string | undefined;
  host?: string | undefined;
  port?: string | undefined;
  "allow-remote"?: boolean | undefined;
}

export interface ChoiceRules {
  /** what neither flag means (smtpscript: 127.0.0.1:25, monkey: the embedded target); absent: a usage error */
  otherwise?: ServerChoice;
  /** for the loopback refusal: "refusing to <what> HOST" */
  what?: string;
}

export function chooseServer(v: ServerFlags, rules: ChoiceRules = {}): ServerChoice {
  const hostGiven = v.host !== undefined || v.port !== undefined;
  if (v.target !== undefined && hostGiven) throw new UsageError("--target and --host/--port are exclusive");
  if (v.target === undefined && !hostGiven) {
    if (rules.otherwise === undefined) throw new UsageError("give --target NAME or --host/--port");
    return "target" in rules.otherwise ? { target: knownTarget(rules.otherwise.target) } : rules.otherwise;
  }
  if (v.target !== undefined) return { target: knownTarget(v.target) };
  // a default server lends its port to a bare --host (smtpscript --host H means H:25)
  const defaultPort = rules.otherwise !== undefined && "port" in rules.otherwise ? rules.otherwise.port : undefined;
  if (v.port === undefined && defaultPort === undefined) throw new UsageError("--host needs --port");
  const port = v.port === undefined ? (defaultPort as number) : parsePort(v.port, "--port");
  const host = v.host ?? "127.0.0.1";
  assertLoopback(host, v["allow-remote"] === true, rules.what);
  return { host, port };
}

/** A registered target or a readable target file; a UsageError naming --target otherwise. */
function knownTarget(ref: string): string {
  try {
    targetPlugin(ref);
  } catch (err) {
    throw new UsageError(`--target: ${(err as Error).message}`);
  }
  return ref;
}
