// What a fault sweep hands its outputs: the SweepReport (partial after Ctrl-C).
import type { OutputKind } from "../../../common/output.js";
import type { SweepReport } from "../sweep.js";

export type SweepOutputKind = OutputKind<SweepReport>;
