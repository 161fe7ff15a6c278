// A JUnit XML document, as CI systems read it (Jenkins, GitLab, GitHub annotations): the
// storm's thresholds, the monkey's findings and smtpscript's test-cases become test cases, so a
// CI page lists what failed without anyone opening a log.
import { xmlAttr, xmlText } from "./xml.js";

export interface JunitCase {
  name: string;
  classname: string;
  timeMs?: number;
  /** where the test is written (a script's file and line), for annotations on the source */
  file?: string;
  line?: number;
  /** a check that did not hold */
  failure?: { message: string; type: string; detail?: string };
  /** the check could not be judged (an interrupted run) */
  error?: { message: string; type: string; detail?: string };
  /** not checked, and why */
  skipped?: string;
  systemOut?: string;
}

export interface JunitSuite {
  name: string;
  timeMs: number;
  /** ISO time the run started */
  startedAt?: string;
  hostname?: string;
  properties: Record<string, string | number | boolean>;
  cases: JunitCase[];
}

export interface JunitReport {
  /** the document's name (the tool), e.g. "smtpchaos storm" */
  tool: string;
  /** the whole run; by default the sum of the suites' times */
  timeMs?: number;
  suites: JunitSuite[];
}

const secs = (ms: number): string => (ms / 1000).toFixed(3);

function counts(cases: readonly JunitCase[], timeMs: number): string {
  const failures = cases.filter((c) => c.failure !== undefined).length;
  const errors = cases.filter((c) => c.error !== undefined).length;
  const skipped = cases.filter((c) => c.skipped !== undefined).length;
  return `tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${secs(timeMs)}"`;
}

function caseLines(c: JunitCase): string[] {
  const inner: string[] = [];
  if (c.skipped !== undefined) inner.push(`      <skipped message="${xmlAttr(c.skipped)}"/>`);
  for (const [tag, f] of [["failure", c.failure], ["error", c.error]] as const) {
    if (f !== undefined) inner.push(`      <${tag} message="${xmlAttr(f.message)}" type="${xmlAttr(f.type)}">${xmlText(f.detail ?? f.message)}</${tag}>`);
  }
  if (c.systemOut !== undefined && c.systemOut !== "") inner.push(`      <system-out>${xmlText(c.systemOut)}</system-out>`);
  const where = `${c.file === undefined ? "" : ` file="${xmlAttr(c.file)}"`}${c.line === undefined ? "" : ` line="${c.line}"`}`;
  const open = `    <testcase name="${xmlAttr(c.name)}" classname="${xmlAttr(c.classname)}"${where} time="${secs(c.timeMs ?? 0)}"`;
  return inner.length === 0 ? [`${open}/>`] : [`${open}>`, ...inner, "    </testcase>"];
}

function suiteLines(s: JunitSuite): string[] {
  const when = s.startedAt === undefined ? "" : ` timestamp="${xmlAttr(s.startedAt.replace(/\.\d+Z$/, ""))}"`;
  const host = s.hostname === undefined ? "" : ` hostname="${xmlAttr(s.hostname)}"`;
  const out = [`  <testsuite name="${xmlAttr(s.name)}" ${counts(s.cases, s.timeMs)}${when}${host}>`];
  const props = Object.entries(s.properties);
  if (props.length > 0) out.push(`    <properties>${props.map(([k, v]) => `<property name="${xmlAttr(k)}" value="${xmlAttr(String(v))}"/>`).join("")}</properties>`);
  out.push(...s.cases.flatMap(caseLines), "  </testsuite>");
  return out;
}

export function junitDocument(r: JunitReport): string {
  const all = r.suites.flatMap((s) => s.cases);
  const timeMs = r.timeMs ?? r.suites.reduce((a, s) => a + s.timeMs, 0);
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="${xmlAttr(r.tool)}" ${counts(all, timeMs)}>`, ...r.suites.flatMap(suiteLines), "</testsuites>"];
  return out.join("\n") + "\n";
}
