// The one place the tools meet: smtpscript (and the suites) get the monkey's fault wiring for
// --target and its control API client for --monkey. Everything else imports one way only.
import { provideToScripts } from "../smtpscript/providers.js";
import { startFaultableTarget } from "../monkey/targets.js";
import { remoteScriptFaults } from "../monkey/control-client.js";

export function composeTools(): void {
  provideToScripts({ startTarget: startFaultableTarget, remoteFaults: remoteScriptFaults });
}
