// The one place the tools meet: smtpscript (and the suites) get the monkey's fault wiring for
// --target and its control API client for --monkey. Everything else imports one way only.
import { provideToScripts } from "../smtpscript/providers.js";
import { startTarget } from "../targets/registry.js";
import { createFaultableTarget } from "../monkey/targets.js";
import { remoteScriptFaults } from "../monkey/control-client.js";

export function composeTools(): void {
  provideToScripts({
    startTarget: async (ref, options) => {
      const f = createFaultableTarget(ref, options);
      const started = await startTarget(f.target);
      const stop = started.stop;
      return {
        started: {
          ...started,
          stop: async () => {
            await f.close();
            await stop();
          },
        },
        faults: f.script(),
      };
    },
    remoteFaults: remoteScriptFaults,
  });
}
