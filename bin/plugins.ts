// `--plugin FILE|PACKAGE` (repeatable, any position) and SMTPCHAOS_PLUGINS for every command:
// loaded before the command's own modules, so its help, its validation and its registries
// include them (common/plugins.ts passes them on to the processes and threads it starts).
import { pluginsInEnv } from "../common/plugins.js";

/** argv without its --plugin flags, and the plug-ins they and the environment name. */
export function takePluginFlags(argv: readonly string[]): { argv: string[]; plugins: string[] } {
  const rest: string[] = [];
  const plugins = pluginsInEnv();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === "--plugin") plugins.push(argv[++i] ?? "");
    else if (a.startsWith("--plugin=")) plugins.push(a.slice("--plugin=".length));
    else rest.push(a);
  }
  return { argv: rest, plugins };
}

/** Loads the plug-ins as the library does (with every registry, so every section installs); only when asked for. */
export async function loadPlugins(specs: readonly string[]): Promise<string[]> {
  if (specs.length === 0) return [];
  const { loadPlugin } = await import("../api/plugin.js");
  const names: string[] = [];
  for (const spec of specs) names.push(await loadPlugin(spec));
  return names;
}
