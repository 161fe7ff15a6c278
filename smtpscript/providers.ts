// What smtpscript gets from the tools above it, handed over by the CLI layer (bin/compose.ts):
// the fault wiring of a named target (for `monkey` statements and `requires fault`) and the
// client of a running monkey's control API (--monkey URL). smtpscript never imports them; a
// library user without the monkey still runs scripts, only the fault statements are missing.
import type { StartedTarget } from "../targets/registry.js";
import type { ScriptFaults } from "./runner.js";

export interface StartedWithFaults {
  started: StartedTarget;
  /** `monkey` statements on this target, when it has fault points */
  faults: ScriptFaults | null;
}

export interface ScriptProviders {
  /** starts a named target (or target file) with its fault wiring */
  startTarget?: (ref: string, options: Record<string, unknown>) => Promise<StartedWithFaults>;
  /** the `monkey` statements of a running `monkey serve`, from the URL it printed */
  remoteFaults?: (url: string) => Promise<ScriptFaults>;
}

const providers: ScriptProviders = {};

export function provideToScripts(p: ScriptProviders): void {
  Object.assign(providers, p);
}

export function scriptProviders(): Readonly<ScriptProviders> {
  return providers;
}
