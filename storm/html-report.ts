// The storm report as one self-contained HTML page (`--html FILE`): inline CSS and inline SVG
// charts, no scripts and no external resources (a Content-Security-Policy forbids both), so it
// can be archived as a CI artifact and opened offline. Built only from the JSON report.
import { OUTCOMES, PHASES, UNGRACEFUL } from "./metrics.js";
import type { Outcome } from "./metrics.js";
import type { StormJson } from "./report.js";
import { esc, hBars, latencyBars, lineChart, micros, pct, shareBars } from "./svg-charts.js";

const PERCENTILES = ["p50", "p90", "p99", "p999"] as const;
const PERCENTILE_COLORS: Record<string, string> = { p50: "#a9c8f5", p90: "#5d9cec", p99: "#2f6fcf", p999: "#173f80" };

const OUTCOME_COLORS: Record<Outcome, string> = {
  ok: "#2e9e5b",
  tempfail: "#e0a030",
  permfail: "#e07b30",
  aborted: "#9aa3ad",
  refused: "#c0392b",
  reset: "#d64545",
  closed: "#b83280",
  timeout: "#8e44ad",
  tls: "#6c3483",
  protocol: "#7b241c",
  local: "#5d6d7e",
};

/** Colour by reply class; codes of one class get lighter shades so neighbours stay distinct. */
function codeColor(code: number, shade: number): string {
  const base: Record<number, [number, number]> = { 2: [145, 55], 3: [195, 60], 4: [38, 85], 5: [0, 65] };
  const [h, s] = base[Math.floor(code / 100)] ?? [0, 0];
  return `hsl(${h} ${s}% ${Math.min(70, 38 + shade * 10)}%)`;
}

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f6f8; color: #1f2328; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 1340px; margin: 0 auto; padding: 24px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .sub { color: #57606a; }
header .sub code { background: #e8ebef; padding: 1px 5px; border-radius: 4px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin: 18px 0; }
.tile { background: #fff; border-radius: 8px; padding: 12px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.tile .v { font-size: 22px; font-weight: 600; }
.tile .k { color: #57606a; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; }
section.card { background: #fff; border-radius: 8px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); margin-bottom: 16px; overflow-x: auto; }
section.card h2 { margin: 0 0 10px; font-size: 15px; }
section.card.wide { grid-column: 1 / -1; }
.split { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.split > * { flex: 1 1 420px; min-width: 0; }
.split > .t { flex: 1.5 1 480px; overflow-x: auto; }
.split table { font-size: 13px; }
svg.chart { display: block; width: 100%; max-width: 640px; height: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid #eaecef; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { color: #57606a; font-weight: 600; font-size: 12px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; color: #fff; }
.pass { background: #2e9e5b; } .fail { background: #d64545; }
.banner { padding: 10px 14px; border-radius: 8px; margin: 12px 0; font-weight: 600; }
.banner.warn { background: #fff4d6; color: #7a5200; border: 1px solid #f0d58a; }
.banner.bad { background: #fde2e1; color: #8a1c1c; border: 1px solid #f3b3b0; }
.banner.good { background: #dff5e7; color: #17603a; border: 1px solid #a8dfbd; }
footer { color: #57606a; font-size: 12px; margin-top: 8px; }
`;

function tile(k: string, v: string): string {
  return `<div class="tile"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`;
}

function card(title: string, body: string, id: string, wide = false): string {
  return `<section class="card${wide ? " wide" : ""}" id="${esc(id)}"><h2>${esc(title)}</h2>${body}</section>`;
}

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  if (rows.length === 0) return "";
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
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
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
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
<footer>Generated by smtpchaos storm. Latencies are measured per phase from the client; the timeline has one point per second.</footer>
</main>
</body>
</html>
`;
}
