// Exit codes shared by every smtpchaos command; documented in README.md.
export const EXIT = {
  /** everything ran and every check passed */
  ok: 0,
  /** the run completed and found failures (failed expectations, findings, failed thresholds) */
  failures: 1,
  /** the run could not be carried out: bad usage, a script that does not parse, an unreachable target */
  usage: 2,
  /** the run completed with no findings but cannot back a PASS: a planned fault never reached the target */
  inconclusive: 3,
  /** interrupted (SIGINT/SIGTERM); partial reports were still written */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
