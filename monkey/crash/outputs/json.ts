// The whole CrashReport for machines: models: [{ name, crashPoints, states, statesLosingMail, lostMessages, duplicates, findings }].
import { textOutput } from "../../../common/output.js";
import type { CrashOutputKind } from "./kind.js";

export const jsonOutput: CrashOutputKind = {
  name: "json",
  summary: "the whole report as JSON (models, each with its findings and replays)",
  create: (to) => textOutput(to, (r) => JSON.stringify(r, null, 2) + "\n"),
};
