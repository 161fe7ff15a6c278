// A JUnit XML document of one test suite, as CI systems read it (Jenkins, GitLab, GitHub
// annotations): the storm's thresholds and the monkey's findings become test cases, so a CI
// page lists what failed without anyone opening a log.
import { xmlAttr, xmlText } from "./xml.js";

export interface JunitCase {
  name: string;
  classname: string;
  timeMs?: number;
  /** a check that did not hold */
  failure?: { message: string; type: string; detail?: string };
  /** the check could not be judged (an interrupted run) */
  error?: { message: string; type: string; detail?: string };
  /** not checked, and why */
  skipped?: string;
  systemOut?: string;
}

export interface JunitSuite {
  /** the document's name (the tool), e.g. "smtpchaos storm" */
  tool: string;
  name: string;
  timeMs: number;
  /** ISO time the run started */
  startedAt?: string;
  hostname?: string;
  properties: Record<string, string | number | boolean>;
  cases: JunitCase[];
}

const secs = (ms: number): string => (ms / 1000).toFixed(3);

export function junitDocument(s: JunitSuite): string {
  const failures = s.cases.filter((c) => c.failure !== undefined).length;
  const errors = s.cases.filter((c) => c.error !== undefined).length;
  const skipped = s.cases.filter((c) => c.skipped !== undefined).length;
  const counts = `tests="${s.cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${secs(s.timeMs)}"`;
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="${xmlAttr(s.tool)}" ${counts}>`];
  const when = s.startedAt === undefined ? "" : ` timestamp="${xmlAttr(s.startedAt.replace(/\.\d+Z$/, ""))}"`;
  const host = s.hostname === undefined ? "" : ` hostname="${xmlAttr(s.hostname)}"`;
  out.push(`  <testsuite name="${xmlAttr(s.name)}" ${counts}${when}${host}>`);
  const props = Object.entries(s.properties);
  if (props.length > 0) out.push(`    <properties>${props.map(([k, v]) => `<property name="${xmlAttr(k)}" value="${xmlAttr(String(v))}"/>`).join("")}</properties>`);
  for (const c of s.cases) {
    const inner: string[] = [];
    if (c.skipped !== undefined) inner.push(`      <skipped message="${xmlAttr(c.skipped)}"/>`);
    for (const [tag, f] of [["failure", c.failure], ["error", c.error]] as const) {
      if (f !== undefined) inner.push(`      <${tag} message="${xmlAttr(f.message)}" type="${xmlAttr(f.type)}">${xmlText(f.detail ?? f.message)}</${tag}>`);
    }
    if (c.systemOut !== undefined && c.systemOut !== "") inner.push(`      <system-out>${xmlText(c.systemOut)}</system-out>`);
    const open = `    <testcase name="${xmlAttr(c.name)}" classname="${xmlAttr(c.classname)}" time="${secs(c.timeMs ?? 0)}"`;
    out.push(...(inner.length === 0 ? [`${open}/>`] : [`${open}>`, ...inner, "    </testcase>"]));
  }
  out.push("  </testsuite>", "</testsuites>");
  return out.join("\n") + "\n";
}
