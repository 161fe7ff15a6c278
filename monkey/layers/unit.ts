// What one fault layer declares, as one small registered unit (toxiproxy's toxics are the model):
// its points and actions, how it is wired to a target, how its firings are charged to client
// sessions and what the oracle excuses under it. Plan validation, `monkey run`, `monkey serve`,
// the control API and the oracle read these declarations; none of them lists layers.
import type { RecordingSink } from "../../targets/sink/recording-sink.js";
import type { Injector } from "../injector.js";
import type { FaultPlan } from "../plan.js";
import type { ReachInfo } from "../reach.js";
import type { FindingKind } from "../oracle.js";
import type { FaultSurface } from "../surface.js";
import type { Target } from "../../targets/target.js";

/** A family of fault points: what plan validation knows of them. */
export interface PointKind {
  /** FaultSpec.family, e.g. "queue" */
  readonly family: string;
  /** how people write them, for messages: "queue.<op>" */
  readonly patterns: readonly string[];
  readonly match: RegExp;
  /** what may go wrong at these points; the first is the default */
  readonly actions: readonly string[];
  /** the name says the action (net.stall stalls): action/actions are refused */
  readonly namedAction?: boolean;
  /** a failing system call: errno applies (EIO unless given) */
  readonly errno?: boolean;
  /** the call a point of this kind fails (sys.queue.fsync: fsync), whose errnos a plan may pick (errnos.ts) */
  readonly callOf?: (point: string) => string | null;
  /** a process fault: `scope` picks one process of the role (the default) or all of them */
  readonly scoped?: boolean;
  /** decided on a timer (interval), not per call: at/after do not apply */
  readonly timeDriven?: boolean;
  /** settings these points cannot do without */
  readonly needs?: ReadonlyArray<"duration" | "bytesPerSec">;
  /** what `monkey fail POINT` asks for, when not the default action */
  readonly failAction?: string;
  /** findings its faults cause on purpose (a reset the proxy made): not the server's doing */
  readonly excuses?: readonly FindingKind[];
  /** its mechanism tells call sites apart: `stack` (a call-site hash a sweep discovered) narrows a point to one */
  readonly callSites?: boolean;
  /** the process role a point of this kind hits (pause.queue: queue), for crash reports */
  readonly roleOf?: (point: string) => string | null;
}

/**
 * How a firing is charged to client sessions. "client": the decision carries the flood client's
 * own port; "target": it carries the port the target saw (the proxy's, when one stands in
 * front), or none, and then it counts for every session it overlapped; "none": it hits work done
 * after the session (relaying), which the ledger judges instead.
 */
export type Charge = "client" | "target" | "none";

export interface FaultLayerUnit {
  /** e.g. "net"; also the key of its --proxy-port-like port in AttachContext.ports */
  readonly name: string;
  /** one line for people: what fails, and through what */
  readonly summary: string;
  readonly kinds: readonly PointKind[];
  readonly charge: Charge;
  /** it also reaches a server the toolkit does not run (--host), from outside */
  readonly unmanaged?: boolean;
  /** what its points take, said when a target offers none of them */
  readonly unavailable?: string;
  /**
   * The layer's own wiring for one target (a proxy, a next hop, timers), or null when it is not
   * wanted. Absent: the target's fault surface fires these points (monkey/targets.ts).
   */
  attach?(ctx: AttachContext): LayerInstance | null;
}

export interface AttachContext {
  injector: Injector;
  /** the plan names points of this layer */
  planned: boolean;
  /** `monkey serve`: ready for any plan the control API may set later */
  serving: boolean;
  /** progress and trouble, for people */
  stage: (text: string) => void;
  /** ports asked for, by layer name (--proxy-port) */
  ports: Readonly<Record<string, number>>;
}

/** What a layer needs of the target before it is created. */
export interface TargetNeeds {
  /** relay the hop's domain to it; a target that delivers to a sink makes the hop its sink instead (`adoptsNextHop`) */
  nextHop?: NextHopNeed;
  /** recipients the flood sends to besides the target's own mailboxes */
  mailboxes?: string[];
  /** run by every start of the target before the MTA runs (power.cut puts its durable directories on the recording file system) */
  beforeLaunch?: (dir: string, target: Target) => Promise<void>;
  /** run by the target's stop() before its instance directory goes (power.cut unmounts) */
  onStopped?: (dir: string) => Promise<void>;
  /** the MTA must run as a process of its own (a power cut kills it): the embedded target then runs as a child */
  ownProcess?: boolean;
}

export interface NextHopNeed {
  host: string;
  port: number;
  domain: string;
  sink?: RecordingSink;
}

export interface StartContext {
  target: Target;
  surface: FaultSurface | null;
  /** where clients reach the target so far */
  endpoint: { host: string; port: number };
}

/** What a layer adds to the run's report. */
export interface LayerReport {
  /** for people, after the ledger */
  lines?: string[];
  notes?: string[];
  /** its own counts for machines: the report's `layers[NAME]` (the next hop's arrivals, the process faults' events) */
  details?: Record<string, unknown>;
  /** what it knows of the reach of its points (processes signalled...) */
  reach?: Record<string, ReachInfo>;
}

/** A layer wired to one target. */
export interface LayerInstance {
  /** the points it fires on this target (some are only known once the target runs) */
  points(): string[];
  /** before the target is created; stopped after the target then */
  prepare?(): Promise<TargetNeeds>;
  /** the target runs; a layer that stands in front of it returns where clients connect now */
  start(ctx: StartContext): Promise<{ host: string; port: number } | void>;
  /** re-reads what the target offers (its processes come and go) */
  sync?(): Promise<void>;
  /** why points of its families that it does not offer are refused, or null */
  refusal?(points: readonly string[]): string | null;
  /** the plan in force changed (the first one too): reschedule */
  follow?(plan: FaultPlan): Promise<void>;
  /** faults are over for good (the run drains): leave the clients' path */
  heal?(): Promise<void>;
  /** releases everything; idempotent */
  stop(): Promise<void>;
  /** where it sits, for people (`monkey serve` prints it) */
  describe?(): string | null;
  /** the port the target saw for the flood client at clientPort, when the layer stands between */
  upstreamPortOf?(clientPort: number): number | undefined;
  /** ledger ids of what the layer received itself (the next hop) */
  deliveredIds?(): Array<string | null>;
  report?(): LayerReport;
}
