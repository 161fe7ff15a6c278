// What the storm hands its outputs: the result of one storm, or of a find-limit ramp.
import type { OutputKind } from "../../common/output.js";
import type { FindLimitResult } from "../find-limit.js";
import type { ThresholdResult } from "../report.js";
import type { StormResult } from "../scheduler.js";

export interface StormRun {
  kind: "storm";
  result: StormResult;
  /** the target as reports name it, e.g. "embedded (127.0.0.1:2525)" */
  label: string;
  thresholds: ThresholdResult[];
  /** with --shrink-out and a failed session: what shrinking found */
  shrunk: Record<string, unknown> | null;
}

export interface FindLimitRun {
  kind: "find-limit";
  result: FindLimitResult;
  label: string;
  seed: number;
}

export type StormOutcome = StormRun | FindLimitRun;

/** What an output knows before the run. */
export interface StormOutputContext {
  findLimit: boolean;
}

export type StormOutputKind = OutputKind<StormOutcome, StormOutputContext>;
