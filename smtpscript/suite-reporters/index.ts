// suite run's reporters (--reporter NAME[=FILE]): its own console, and every document reporter
// of smtpscript (reporters/index.ts) reading the judged results, so a new one serves both.
import { OutputRegistry, readingFrom } from "../../common/output.js";
import type { OutputKind } from "../../common/output.js";
import { addPluginInstaller, assertShape, NAMED_FACTORY_FIELDS } from "../../common/plugins.js";
import { DOCUMENTS, REPORTER_FLAG, REPORTERS } from "../reporters/index.js";
import type { ReporterKind } from "../reporters/index.js";
import type { JudgedResult } from "../suites.js";
import { suiteConsole } from "./console.js";
import type { SuiteReport, SuiteReporterContext } from "./kind.js";

export type { SuiteReport, SuiteReporterContext } from "./kind.js";

const forSuites = (kind: ReporterKind): OutputKind<SuiteReport, SuiteReporterContext, JudgedResult> => readingFrom(kind, (report: SuiteReport) => report.run, (judged: JudgedResult) => judged.result);

export const SUITE_REPORTERS = new OutputRegistry<SuiteReport, SuiteReporterContext, JudgedResult>([suiteConsole, ...DOCUMENTS.map(forSuites)], "console", REPORTER_FLAG);

/** Adds a document reporter (a plug-in's): smtpscript's --reporter and suite run's both offer it. */
export function registerReporter(kind: ReporterKind): void {
  REPORTERS.register(kind);
  SUITE_REPORTERS.register(forSuites(kind));
}

addPluginInstaller({
  key: "reporters",
  install(entries, from) {
    for (const entry of entries) registerReporter(assertShape(entry, "reporter", from, NAMED_FACTORY_FIELDS) as unknown as ReporterKind);
  },
});
