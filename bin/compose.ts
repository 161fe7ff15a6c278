// The one place the tools meet: smtpscript (and the suites) get the monkey's fault wiring for
// --target and its control API client for --monkey; the monkey gets storm's mixes as traffic
// for its flood. Everything else imports one way only.
import { provideToScripts } from "../smtpscript/providers.js";
import { provideToMonkey } from "../monkey/providers.js";
import { startFaultableTarget } from "../monkey/targets.js";
import { remoteScriptFaults } from "../monkey/control-client.js";
import { UsageError } from "../common/usage-error.js";

export function composeTools(): void {
  provideToScripts({ startTarget: startFaultableTarget, remoteFaults: remoteScriptFaults });
  provideToMonkey({
    // Loaded on demand: a script run never pays for storm's imports.
    traffic: async (file, seed) => {
      const { loadMixFile } = await import("../storm/mix-file.js");
      const { mixTraffic } = await import("../storm/traffic.js");
      const { MixError } = await import("../storm/plan.js");
      try {
        return mixTraffic(loadMixFile(file), seed);
      } catch (err) {
        if (err instanceof MixError) throw new UsageError(`--mix ${file}: ${err.message}`);
        throw err;
      }
    },
  });
}
