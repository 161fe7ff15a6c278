import type { Reporter, ReporterOptions } from "./reporter.js";
import { consoleReporter } from "./console.js";
import { tapReporter } from "./tap.js";
import { junitReporter } from "./junit.js";
import type { RunResult } from "../result.js";

export type { Reporter, ReporterOptions } from "./reporter.js";

export const REPORTERS = {
  console: consoleReporter,
  tap: () => tapReporter(),
  junit: () => junitReporter(),
  json: (): Reporter => ({ onEnd: (run: RunResult) => JSON.stringify(run, null, 2) + "\n" }),
} satisfies Record<string, (o: ReporterOptions) => Reporter>;

export type ReporterName = keyof typeof REPORTERS;

export function isReporterName(name: string): name is ReporterName {
  return Object.hasOwn(REPORTERS, name);
}
