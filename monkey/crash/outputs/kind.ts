// What a crash run hands its outputs: the CrashReport (partial after Ctrl-C).
import type { OutputKind } from "../../../common/output.js";
import type { CrashReport } from "../run.js";

export type CrashOutputKind = OutputKind<CrashReport>;
