// One self-contained page: a tile per count, the table per model, every finding explained.
import { card, htmlPage, table, tile } from "../../../common/html-page.js";
import { textOutput } from "../../../common/output.js";
import { esc } from "../../../common/svg-charts.js";
import { formatDuration } from "../../../common/duration.js";
import type { CrashReport } from "../run.js";
import { crashVerdict } from "./text.js";
import type { CrashOutputKind } from "./kind.js";

export function crashHtml(r: CrashReport): string {
  const banner = r.verdict === "pass" ? "good" : r.verdict === "findings" ? "bad" : "warn";
  const body = [
    `<header><h1>Crash run of ${esc(r.target)}</h1><div class="sub">seed <code>${esc(String(r.seed))}</code>, ${esc(formatDuration(r.durationMs))}, durable: ${esc(r.durable.join(", "))}</div></header>`,
    `<div class="banner ${banner}">${esc(crashVerdict(r))}</div>`,
    `<div class="tiles">${[tile("sent", String(r.sent)), tile("acknowledged", String(r.accepted)), tile("operations", String(r.ops)), ...r.models.map((m) => tile(`${m.name}: losing states`, `${m.statesLosingMail}/${m.states}`))].join("")}</div>`,
    card("Models", table(["model", "what survives a crash", "crash points", "states", "tried", "losing mail", "lost messages", "duplicates", "not starting"], r.models.map((m) => [esc(m.name), esc(m.summary), String(m.crashPoints), m.truncated ? `${m.states} of ${m.distinct}` : String(m.states), String(m.tried), String(m.statesLosingMail), String(m.lostMessages), String(m.duplicates), String(m.statesNotStarting)])), "models", true),
    ...r.models.filter((m) => m.findings.length > 0).map((m) =>
      card(`Findings under ${m.name}`, m.findings.map((f) => `<h3>${esc(f.state)}: crash ${esc(f.crashPoint)}</h3><p>${f.lost.length} of ${f.acked} acknowledged lost${f.duplicates.length > 0 ? `, ${f.duplicates.length} duplicated` : ""}${f.startError !== null ? `; did not start: ${esc(f.startError)}` : ""}</p><ul>${f.explanation.map((e) => `<li>${esc(e)}</li>`).join("")}</ul><pre>${esc(f.replay)}</pre>`).join(""), `f-${m.name}`, true),
    ),
  ];
  return htmlPage(`smtpchaos crash run: ${r.target}`, body.join("\n"));
}

export const htmlOutput: CrashOutputKind = {
  name: "html",
  summary: "one self-contained page: the models, every finding with its explanation and replay",
  create: (to) => textOutput(to, (r) => crashHtml(r)),
};
