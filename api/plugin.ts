// The plug-in format, typed: what a user's package default-exports to add targets, fault layers,
// storm kinds and outputs to every CLI (`--plugin`, SMTPCHAOS_PLUGINS) and to the library
// (`loadPlugin`). Each section is read by the registry it extends (common/plugins.ts).
import type { OutputKind } from "../common/output.js";
import { loadPlugin as loadPluginModule, registerPlugin as registerPluginData, resolvePlugin } from "../common/plugins.js";
// every registry with a plug-in section, so that all of its sections can be installed
import "../targets/registry.js";
import "../monkey/layers/registry.js";
import "../monkey/outputs/index.js";
import "../storm/kinds/index.js";
import "../storm/outputs/index.js";
import "../smtpscript/suite-reporters/index.js";
import type { TargetPlugin } from "../targets/registry.js";
import type { FaultLayerUnit } from "../monkey/layers/unit.js";
import type { MonkeyReport } from "../monkey/run.js";
import type { StormKind } from "../storm/kinds/kind.js";
import type { StormOutcome, StormOutputContext } from "../storm/outputs/index.js";
import type { ReporterKind } from "../smtpscript/reporters/index.js";

export interface SmtpchaosPlugin {
  /** named in messages */
  name: string;
  /** `--target NAME`: code ({ name, summary, create(options) }) or a target file's path, relative to the plug-in */
  targets?: ReadonlyArray<TargetPlugin | string>;
  /** fault points for plans, `monkey run --fault` and scripts' `monkey` statements */
  faultLayers?: readonly FaultLayerUnit[];
  /** session kinds for mixes (`--weight NAME=W`) */
  stormKinds?: ReadonlyArray<StormKind<never>>;
  /** `storm --out NAME[=FILE]` */
  stormOutputs?: ReadonlyArray<OutputKind<StormOutcome, StormOutputContext>>;
  /** `monkey run --out NAME[=FILE]` */
  monkeyOutputs?: ReadonlyArray<OutputKind<MonkeyReport>>;
  /** smtpscript's and suite run's `--reporter NAME[=FILE]` */
  reporters?: readonly ReporterKind[];
}

/** The identity, typed: `export default definePlugin({ ... })` checks a plug-in written in TypeScript or with JSDoc. */
export function definePlugin(plugin: SmtpchaosPlugin): SmtpchaosPlugin {
  return plugin;
}

/**
 * Loads a plug-in module (a path, relative to `cwd`, or a package name) as `--plugin` does:
 * registered here, and passed on to the storm's worker threads and the target hosts started
 * later. Returns its name; a PluginError says what is wrong with it.
 */
export async function loadPlugin(spec: string, cwd = process.cwd()): Promise<string> {
  return loadPluginModule(resolvePlugin(spec, cwd));
}

/** Registers a plug-in given as data in this thread only (worker threads and target hosts need `loadPlugin`). */
export function registerPlugin(plugin: SmtpchaosPlugin): string {
  return registerPluginData(plugin, plugin.name);
}
