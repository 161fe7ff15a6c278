// What the monkey hands its outputs: the MonkeyReport of one run (partial after Ctrl-C).
import type { OutputKind } from "../../common/output.js";
import type { MonkeyReport } from "../run.js";

export type MonkeyOutputKind = OutputKind<MonkeyReport>;
