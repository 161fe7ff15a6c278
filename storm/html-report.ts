// The storm report as one self-contained HTML page (`--html FILE`): inline CSS and inline SVG
// charts, no scripts and no external resources (a Content-Security-Policy forbids both), so it
// can be archived as a CI artifact and opened offline. Built only from the JSON report.
import { OUTCOMES, PHASES, UNGRACEFUL } from "./metrics.js";
import type { Outcome } from "./metrics.js";
import type { StormJson } from "./report.js";
import { esc, hBars, latencyBars, lineChart, micros, pct, shareBars } from "../common/svg-charts.js";
import { card, htmlPage, table, tile } from "../common/html-page.js";

const PERCENTILES = ["p50", "p90", "p99", "p999"] as const;
const PERCENTILE_COLORS: Record<string, string> = { p50: "#a9c8f5", p90: "#5d9cec", p99: "#2f6fcf", p999: "#173f80" };

const OUTCOME_COLORS: Record<Outcome, string> = {
  ok: "#2e9e5b",
  tempfail: "#e0a030",
  permfail: "#e07b30",
  "closed-after-refusal": "#c9a227",
  aborted: "#9aa3ad",
  refused: "#c0392b",
  reset: "#d64545",
  closed: "#b83280",
  timeout: "#8e44ad",
  tls: "#6c3483",
  protocol: "#7b241c",
  local: "#5d6d7e",
  overdue: "#4a235a",
};

/** Colour by reply class; codes of one class get lighter shades so neighbours stay distinct. */
function codeColor(code: number, shade: number): string {
  const base: Record<number, [number, number]> = { 2: [145, 55], 3: [195, 60], 4: [38, 85], 5: [0, 65] };
  const [h, s] = base[Math.floor(code / 100)] ?? [0, 0];
  return `hsl(${h} ${s}% ${Math.min(70, 38 + shade * 10)}%)`;
}

/** "phase code" -> count, grouped by phase in wire order (unknown phases last). */
function codesByPhase(codes: Record<string, number>): Array<{ phase: string; codes: Array<{ code: number; n: number }> }> {
  const byPhase = new Map<string, Array<{ code: number; n: number }>>();
  for (const [key, n] of Object.entries(codes)) {
    const [phase = key, code = "0"] = key.split(" ");
    const list = byPhase.get(phase) ?? [];
    list.push({ code: Number(code), n });
    byPhase.set(phase, list);
  }
  const order = (p: string): number => {
    const i = (PHASES as readonly string[]).indexOf(p);
    return i === -1 ? PHASES.length : i;
  };
  return [...byPhase.entries()]
    .sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b))
    .map(([phase, list]) => ({ phase, codes: list.sort((a, b) => a.code - b.code) }));
}

/**
 * The timeline as rates per second. Ticks are rounded to whole seconds, so the final sample
 * taken when the storm ends (or a late tick) can share a second with the previous one: merge
 * those, and divide the last bucket by its real length so a partial second is not a dip.
 */
function perSecond(r: StormJson): StormJson["timeline"] {
  const merged: StormJson["timeline"] = [];
  for (const p of [...r.timeline].sort((a, b) => a.t - b.t)) {
    const prev = merged.at(-1);
    if (prev !== undefined && prev.t === p.t) {
      prev.started += p.started;
      prev.completed += p.completed;
      prev.accepted += p.accepted;
      prev.errors += p.errors;
    } else {
      merged.push({ ...p });
    }
  }
  const last = merged.at(-1);
  if (last !== undefined) {
    const before = merged.at(-2)?.t ?? 0;
    const len = Math.max(0.5, r.durationMs / 1000 - before);
    if (Math.abs(len - (last.t - before)) > 0.01 && last.t > before) {
      const f = (n: number): number => Math.round(n / len);
      Object.assign(last, { started: f(last.started), completed: f(last.completed), accepted: f(last.accepted), errors: f(last.errors) });
    }
  }
  return merged;
}

export function renderHtml(r: StormJson): string {
  const secs = r.durationMs / 1000;
  const rate = secs > 0 ? r.accepted / secs : 0;
  const outcomeTotal = Object.values(r.outcomes).reduce((a, n) => a + (n ?? 0), 0);
  const ungraceful = UNGRACEFUL.reduce((a, o) => a + (r.outcomes[o] ?? 0), 0);
  const failed = r.thresholds.filter((t) => !t.ok);

  const banners: string[] = [];
  if (r.interrupted) banners.push(`<div class="banner warn">Interrupted: these are partial results.</div>`);
  if (r.thresholds.length > 0) {
    banners.push(
      failed.length === 0
        ? `<div class="banner good">All ${r.thresholds.length} thresholds passed.</div>`
        : `<div class="banner bad">${failed.length} of ${r.thresholds.length} thresholds failed: ${failed.map((t) => esc(t.threshold)).join(", ")}</div>`,
    );
  }

  const tl = perSecond(r);
  const throughput = lineChart({
    name: "throughput",
    label: "Throughput over time: accepted messages, completed sessions and ungraceful errors per second",
    xUnit: "s",
    yUnit: "per second",
    series: [
      { name: "accepted/s", color: "#2e9e5b", points: tl.map((p) => [p.t, p.accepted] as const) },
      { name: "completed/s", color: "#3b6fd8", points: tl.map((p) => [p.t, p.completed] as const) },
      ...(tl.some((p) => p.errors > 0) ? [{ name: "errors/s", color: "#d64545", points: tl.map((p) => [p.t, p.errors] as const) }] : []),
    ],
  });
  const concurrency = lineChart({
    name: "concurrency",
    label: "Sessions in flight over time",
    xUnit: "s",
    yUnit: "sessions",
    area: true,
    series: [{ name: "in flight", color: "#7a5cc7", points: tl.map((p) => [p.t, p.concurrency] as const) }],
  });

  const phases = PHASES.flatMap((p) => {
    const s = r.phases[p];
    return s === undefined || s.count === 0 ? [] : [{ phase: p, s }];
  });
  const latency = latencyBars({
    name: "latency",
    label: "Latency percentiles per phase (log scale)",
    colors: PERCENTILE_COLORS,
    groups: phases.map(({ phase, s }) => ({ label: phase, values: PERCENTILES.map((q) => ({ name: q, value: s[q] })) })),
  });
  const latencyTable = table(
    ["phase", "count", "p50", "p90", "p99", "p99.9", "max", "mean"],
    phases.map(({ phase, s }) => [esc(phase), esc(s.count), ...[s.p50, s.p90, s.p99, s.p999, s.max, s.mean].map((v) => esc(micros(v)))]),
  );

  const byPhase = codesByPhase(r.codes);
  const codes = shareBars({
    name: "codes",
    label: "Reply codes per phase, as shares of the phase's replies",
    rows: byPhase.map(({ phase, codes: list }) => {
      const shade = new Map<number, number>();
      return {
        label: phase,
        segments: list.map(({ code, n }) => {
          const k = Math.floor(code / 100);
          shade.set(k, (shade.get(k) ?? -1) + 1);
          return { name: String(code), value: n, color: codeColor(code, shade.get(k) ?? 0) };
        }),
      };
    }),
  });
  const codesTable = table(
    ["phase", "replies"],
    byPhase.map(({ phase, codes: list }) => [esc(phase), list.map(({ code, n }) => `${esc(code)}&times;${esc(n)}`).join(" &nbsp; ")]),
  );

  const outcomes = hBars({
    name: "outcomes",
    label: "How sessions ended",
    rows: OUTCOMES.map((o) => ({ label: o, value: r.outcomes[o] ?? 0, color: OUTCOME_COLORS[o] })),
  });

  const thresholds =
    r.thresholds.length === 0
      ? `<p>No thresholds were given (<code>--threshold "p99(dot)&lt;500ms"</code>).</p>`
      : table(
          ["threshold", "actual", "result"],
          r.thresholds.map((t) => [
            `<code>${esc(t.threshold)}</code>`,
            esc(t.unit === "ms" ? `${t.actual.toFixed(2)} ms` : Number.isInteger(t.actual) ? String(t.actual) : t.actual.toFixed(4)),
            t.ok ? `<span class="badge pass">pass</span>` : `<span class="badge fail">FAIL</span>`,
          ]),
        );

  const title = `storm report: ${r.target}`;
  return htmlPage(title, `<header>
<h1>smtpchaos storm report</h1>
<div class="sub">target <code>${esc(r.target)}</code> &middot; seed <code>${esc(r.seed)}</code> (replay with <code>--seed ${esc(r.seed)}</code>) &middot; ${esc(secs.toFixed(1))} s</div>
</header>
${banners.join("\n")}
<div class="tiles">
${tile("sessions", String(r.sessions))}
${tile("messages accepted", String(r.accepted))}
${tile("accepted msg/s", rate.toFixed(1))}
${tile("peak concurrency", String(r.maxConcurrency))}
${tile("ungraceful", `${ungraceful} (${pct(ungraceful, outcomeTotal)})`)}
${tile("thresholds", r.thresholds.length === 0 ? "none" : `${r.thresholds.length - failed.length}/${r.thresholds.length} pass`)}
</div>
${card("Thresholds", thresholds, "thresholds")}
<div class="grid">
${card("Throughput over time", throughput, "throughput")}
${card("Concurrency over time", concurrency, "concurrency")}
${card("Latency percentiles per phase", `<div class="split"><div>${latency}</div><div class="t">${latencyTable}</div></div>`, "latency", true)}
${card("Reply codes per phase", codes + codesTable, "codes")}
${card("Session outcomes", outcomes, "outcomes")}
</div>
<footer>Generated by smtpchaos storm. Latencies are measured per phase from the client; the timeline has one point per second.</footer>`);
}
