// The whole SweepReport for machines: failureIds (each with its outcome and findings) beside the matrix.
import { textOutput } from "../../../common/output.js";
import type { SweepOutputKind } from "./kind.js";

export const jsonOutput: SweepOutputKind = {
  name: "json",
  summary: "the whole report as JSON (failureIds, matrix, notInjectable)",
  create: (to) => textOutput(to, (r) => JSON.stringify(r, null, 2) + "\n"),
};
