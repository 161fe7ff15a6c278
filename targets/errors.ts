// What can go wrong choosing and starting a target, as types a caller can `instanceof`.
import { UserError } from "../common/errors.js";

/** No target of that name is registered, and it is not a target file. */
export class UnknownTargetError extends UserError {}

/** The target cannot run here: its MTA or a mechanism it needs is not installed, or it needs root. */
export class TargetUnavailableError extends UserError {}

/** The MTA was started but did not come up (it exited, or never listened); the message carries its log tail. */
export class TargetStartError extends UserError {}
