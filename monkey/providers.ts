// What the monkey gets from the tools beside it, handed over by the CLI layer (bin/compose.ts):
// a storm mix as the flood's traffic (`monkey run --mix FILE`). The monkey never imports storm;
// without the provider the flood sends its own one-transaction sessions.
import type { Traffic } from "../smtp/index.js";

export interface MonkeyProviders {
  /** the sessions of a mix file, drawn from `seed`; throws a UsageError for a bad file */
  traffic?: (mixFile: string, seed: number) => Promise<Traffic>;
}

const providers: MonkeyProviders = {};

export function provideToMonkey(p: MonkeyProviders): void {
  Object.assign(providers, p);
}

export function monkeyProviders(): Readonly<MonkeyProviders> {
  return providers;
}
