// The one place the tools meet: smtpscript (and the suites) get the monkey's fault wiring for
// --target and its control API client for --monkey; the monkey gets storm's mixes as traffic
// for its flood. Everything else imports one way only.
import { provideToScripts } from "../smtpscript/providers.js";
import { provideToMonkey } from "../monkey/providers.js";
import { startFaultableTarget } from "../monkey/targets.js";
import { remoteScriptFaults } from "../monkey/control-client.js";

export function composeTools(): void {
  provideToScripts({ startTarget: startFaultableTarget, remoteFaults: remoteScriptFaults });
  provideToMonkey({
    // Loaded on demand: a script run never pays for storm's imports.
    traffic: async (file, seed) => {
      // loadMixFile reports a bad file as a UsageError naming it
      const { loadMixFile } = await import("../storm/mix-file.js");
      const { mixTraffic } = await import("../storm/traffic.js");
      return mixTraffic(loadMixFile(file), seed);
    },
  });
}
