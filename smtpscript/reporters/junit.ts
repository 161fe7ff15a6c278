// JUnit XML as CI systems read it: one <testsuite> per script file, the transcript in
// <system-out>, the failing statement's file and line on the <testcase>.
import { formatTranscript } from "../../smtp/transcript.js";
import { xmlAttr as attr, xmlText as text } from "../../common/xml.js";
import type { RunResult, TestResult } from "../result.js";
import { summarize } from "../result.js";
import type { Reporter } from "./reporter.js";

export function junitReporter(): Reporter {
  return { onEnd: (run) => renderJunit(run) };
}

export function renderJunit(run: RunResult): string {
  const byFile = new Map<string, TestResult[]>();
  for (const r of run.results) {
    const list = byFile.get(r.file) ?? [];
    list.push(r);
    byFile.set(r.file, list);
  }
  const all = summarize(run.results);
  const secs = (ms: number): string => (ms / 1000).toFixed(3);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites name="smtpscript" tests="${all.total}" failures="${all.failed}" errors="${all.error}" skipped="${all.skipped}" time="${secs(run.durationMs)}">`,
  );
  for (const [file, results] of byFile) {
    const s = summarize(results);
    const time = results.reduce((a, r) => a + r.durationMs, 0);
    out.push(
      `  <testsuite name="${attr(file)}" tests="${s.total}" failures="${s.failed}" errors="${s.error}" skipped="${s.skipped}" time="${secs(time)}" timestamp="${attr(run.startedAt.replace(/\.\d+Z$/, ""))}" hostname="${attr(run.target)}">`,
    );
    if (run.seed !== undefined) out.push(`    <properties><property name="seed" value="${run.seed}"/></properties>`);
    for (const r of results) {
      const line = r.failure?.loc?.line ?? r.loc.line;
      out.push(`    <testcase name="${attr(r.name)}" classname="${attr(file)}" file="${attr(r.failure?.loc?.file ?? r.file)}" line="${line}" time="${secs(r.durationMs)}">`);
      if (r.status === "skipped") out.push(`      <skipped message="${attr(r.skipReason ?? "")}"/>`);
      if (r.failure !== null) {
        const tag = r.status === "failed" ? "failure" : "error";
        const where = r.failure.loc === null ? "" : `${r.failure.loc.file}:${r.failure.loc.line}:${r.failure.loc.column}\n`;
        const src = r.failure.sourceLine === null ? "" : `${r.failure.sourceLine.trim()}\n`;
        const replay = r.seed === undefined ? "" : `\nreplay with --seed ${r.seed}`;
        out.push(`      <${tag} message="${attr(r.failure.message)}" type="${attr(r.failure.type)}">${text(where + src + r.failure.message + replay)}</${tag}>`);
      }
      const transcript = r.transcripts.map((t) => `[${t.connection}]\n${formatTranscript(t.entries)}`).join("\n");
      if (transcript !== "") out.push(`      <system-out>${text(transcript)}</system-out>`);
      out.push("    </testcase>");
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return out.join("\n") + "\n";
}
