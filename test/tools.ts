// Tools a test validates with (kustomize, schema checkers), installed by a setup script outside
// the repository: as test/targets/helpers.ts mtaAvailability, a missing one skips the test with
// the reason here and fails it in CI (CI set), where the setup script has run.

export interface Availability {
  /** why the tool cannot be used, naming the setup command; null when it can */
  why: string | null;
  /** the skip reason outside CI, false in CI (where the test runs and fails through requireTool) */
  skip: string | false;
}

export function toolAvailability(what: string, missing: string | null, setup: string): Availability {
  const why = missing === null ? null : `${missing} (run '${setup}')`;
  return { why, skip: why !== null && process.env.CI === undefined ? `${what}: ${why}` : false };
}

export function requireTool(what: string, why: string | null): void {
  if (why !== null) throw new Error(`${what} is required in CI: ${why}`);
}
