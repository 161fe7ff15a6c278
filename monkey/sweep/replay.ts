// The replays of a failure ID: the `monkey run` flags that fail its site the same way, and an
// smtpscript test-case that walks one transaction to its phase, arms the failure there with a
// `monkey` statement and expects what a correct server owes its client (a reply that is not a
// refusal; the message delivered exactly once when it was accepted).
import { errnoNumber } from "../errnos.js";
import type { FailureId } from "./failures.js";
import type { SweepPhase } from "./phases.js";

/** `monkey run` flags that fail the sites of `failures` the same way (the first call of each site fails), one client at a time. */
export function replayFlags(...failures: FailureId[]): string {
  const fault = (f: FailureId): string => `--fault '${f.site.point}:${Object.entries(f.settings).map(([k, v]) => `${k}=${String(v)}`).join(",")}'`;
  return `${failures.map(fault).join(" ")} --concurrency 1`;
}

/** The `monkey` statement that arms `f` once, or null when its failure has no statement (a delay of a process). */
function statement(f: FailureId): string | null {
  const s = f.settings;
  const site = typeof s.stack === "string" ? ` site ${s.stack}` : "";
  if (f.site.point.startsWith("kill.")) return null;
  if (s.action === "delay") return `monkey delay ${f.site.point} ${String(s.latency)}${site} once`;
  const errno = typeof s.errno === "string" && errnoNumber(s.errno) !== null ? ` errno ${s.errno}` : "";
  // a hook's failure other than its default one (lookup garbage, timeout) has no statement
  if (s.action !== undefined && s.action !== "error" && s.action !== "tempfail") return null;
  return `monkey fail ${f.site.point}${errno}${site} once`;
}

const STEPS: ReadonlyArray<{ phase: SweepPhase; lines: string[]; reply: string }> = [
  { phase: "ehlo", lines: ['writeln "EHLO sweep.smtpchaos.test"'], reply: "helo" },
  { phase: "mail", lines: ['writeln "MAIL FROM:<sweep@client.smtpchaos.test>"'], reply: "ok" },
  { phase: "rcpt", lines: ['writeln "RCPT TO:<${rcpt}>"'], reply: "ok" },
  { phase: "data", lines: ['writeln "DATA"'], reply: "354" },
  { phase: "dot", lines: ['writeln "Subject: monkey sweep replay"', 'writeln "X-Sweep: ${uniq}"', 'writeln ""', 'writeln "one failure, once"', 'writeln "."'], reply: "ok" },
  { phase: "after-250", lines: ['writeln "QUIT"'], reply: "ok" },
];

/**
 * An smtpscript test-case replaying `f`, or null where the phase does not allow one (connect and
 * banner: a script's connection is open before its first statement; kills: no statement).
 * `dot`: what the sweep's transaction got after its dot: accepted, it must be delivered once;
 * refused, not at all.
 */
export function replayScript(f: FailureId, dot: "accepted" | "rejected" | "ambiguous" | "not-sent"): string | null {
  const arm = statement(f);
  const at = STEPS.findIndex((s) => s.phase === f.site.phase);
  if (arm === null || (at < 0 && f.site.phase !== "delivery")) return null;
  const out = [`# monkey sweep replay of ${f.id}`, `test-case name ${JSON.stringify(`sweep ${f.id}`)} requires fault ${f.site.point} {`, "\texpect smtp ok"];
  // delivery: armed once the session is over, i.e. after the 250 and before the QUIT's effects
  const armAt = f.site.phase === "delivery" ? STEPS.findIndex((s) => s.phase === "after-250") : at;
  let closed = false;
  for (let i = 0; i < STEPS.length && !closed; i++) {
    const step = STEPS[i] as (typeof STEPS)[number];
    if (i === armAt) out.push(`\t${arm}`);
    for (const l of step.lines) out.push(`\t${l}`);
    // from the failure on, the server may defer (4xx) and the transaction is over
    if (i >= armAt) {
      out.push("\texpect smtp graceful");
      if (i === armAt && step.phase !== "dot" && step.phase !== "after-250") closed = true;
    } else out.push(`\texpect smtp ${step.reply}`);
  }
  if (dot === "accepted" && at >= STEPS.findIndex((s) => s.phase === "dot")) out.push("\t# the sweep's transaction was accepted here (250 after the dot): it must be delivered exactly once", '\texpect delivered 1 header "^X-Sweep: ${uniq}$"');
  if (dot === "rejected") out.push("\t# the sweep's transaction was refused after the dot (4xx/5xx): the client keeps it, so it must not be delivered", '\texpect delivered 0 header "^X-Sweep: ${uniq}$"');
  out.push("}");
  return out.join("\n");
}
