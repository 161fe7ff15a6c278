// The frame of a self-contained HTML report (storm's, the monkey's): one file with inline CSS
// and SVG, no scripts, and a Content-Security-Policy that forbids loading anything, so a report
// opens anywhere, offline, and cannot call out.
import { esc } from "./svg-charts.js";

const CSS = `
pre { background: #f6f8fa; padding: 8px 10px; border-radius: 6px; overflow-x: auto; font-size: 12px; white-space: pre-wrap; word-break: break-all; }
details { margin: 6px 0; }

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

export function tile(k: string, v: string): string {
  return `<div class="tile"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`;
}

export function card(title: string, body: string, id: string, wide = false): string {
  return `<section class="card${wide ? " wide" : ""}" id="${esc(id)}"><h2>${esc(title)}</h2>${body}</section>`;
}

export function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  if (rows.length === 0) return "";
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}


/** A whole page: `body` goes inside <main>. */
export function htmlPage(title: string, body: string): string {
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
${body}
</main>
</body>
</html>
`;
}
