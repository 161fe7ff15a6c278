// Small inline-SVG charts for the HTML report: line charts over time, grouped bars on a log
// scale, stacked share bars and plain horizontal bars. Output is a self-contained <svg> string
// (no scripts, no external resources) so a report opens anywhere, offline. Every text that
// reaches the markup goes through esc().

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

const W = 640;
const FONT = `font-family="system-ui, sans-serif" font-size="11"`;
const n2 = (x: number): string => (Math.round(x * 100) / 100).toString();

/** A tick step of 1, 2 or 5 times a power of ten giving about `count` ticks up to max. */
function niceStep(max: number, count: number): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

function compact(v: number): string {
  if (Math.abs(v) >= 1e6) return `${n2(v / 1e6)}M`;
  if (Math.abs(v) >= 1e4) return `${n2(v / 1e3)}k`;
  return n2(v);
}

function svgOpen(name: string, label: string, height: number): string {
  return `<svg class="chart" data-chart="${esc(name)}" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="${esc(label)}" xmlns="http://www.w3.org/2000/svg" ${FONT}>`;
}

function legend(items: ReadonlyArray<{ name: string; color: string }>, x: number, y: number): string {
  let out = "";
  let dx = x;
  for (const it of items) {
    out += `<rect x="${dx}" y="${y - 9}" width="10" height="10" rx="2" fill="${esc(it.color)}"/><text x="${dx + 14}" y="${y}" fill="#333">${esc(it.name)}</text>`;
    dx += 22 + it.name.length * 6.5;
  }
  return out;
}

function noData(name: string, label: string): string {
  return `${svgOpen(name, label, 60)}<text x="${W / 2}" y="34" text-anchor="middle" fill="#888">no data</text></svg>`;
}

export interface Series {
  name: string;
  color: string;
  /** [x, y] points, x increasing */
  points: ReadonlyArray<readonly [number, number]>;
}

/** Lines over a shared linear x axis (seconds), y from 0; `area` fills under the first series. */
export function lineChart(o: { name: string; label: string; series: readonly Series[]; xUnit: string; yUnit: string; area?: boolean; height?: number }): string {
  const all = o.series.flatMap((s) => s.points);
  if (all.length === 0) return noData(o.name, o.label);
  const H = o.height ?? 240;
  const left = 52, right = 14, top = 26, bottom = 34;
  const pw = W - left - right, ph = H - top - bottom;
  const xMin = Math.min(...all.map((p) => p[0]));
  const xMax = Math.max(xMin + 1, ...all.map((p) => p[0]));
  const yStep = niceStep(Math.max(...all.map((p) => p[1])), 4);
  const yMax = Math.max(yStep, Math.ceil(Math.max(...all.map((p) => p[1])) / yStep) * yStep);
  const sx = (x: number): number => left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number): number => top + ph - (y / yMax) * ph;
  let out = svgOpen(o.name, o.label, H);
  for (let y = 0; y <= yMax + yStep / 2; y += yStep) {
    out += `<line x1="${left}" x2="${W - right}" y1="${n2(sy(y))}" y2="${n2(sy(y))}" stroke="#e3e6ea"/>`;
    out += `<text x="${left - 6}" y="${n2(sy(y) + 4)}" text-anchor="end" fill="#666">${esc(compact(y))}</text>`;
  }
  const xStep = Math.max(1, niceStep(xMax - xMin, 8));
  for (let x = Math.ceil(xMin / xStep) * xStep; x <= xMax + 1e-9; x += xStep) {
    out += `<text x="${n2(sx(x))}" y="${H - bottom + 16}" text-anchor="middle" fill="#666">${esc(compact(x))}</text>`;
  }
  out += `<text x="${W - right}" y="${H - 4}" text-anchor="end" fill="#666">${esc(o.xUnit)}</text>`;
  out += `<text x="${W - right}" y="14" text-anchor="end" fill="#666">${esc(o.yUnit)}</text>`;
  out += `<line x1="${left}" x2="${W - right}" y1="${top + ph}" y2="${top + ph}" stroke="#999"/>`;
  o.series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map((p, j) => `${j === 0 ? "M" : "L"}${n2(sx(p[0]))},${n2(sy(p[1]))}`).join("");
    const first = s.points[0] as readonly [number, number];
    const last = s.points[s.points.length - 1] as readonly [number, number];
    if (o.area === true && i === 0) {
      out += `<path class="area" d="${d}L${n2(sx(last[0]))},${n2(sy(0))}L${n2(sx(first[0]))},${n2(sy(0))}Z" fill="${esc(s.color)}" fill-opacity="0.15"/>`;
    }
    out += `<path class="series" data-series="${esc(s.name)}" d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="2" stroke-linejoin="round"/>`;
    if (s.points.length <= 60) {
      for (const p of s.points) {
        out += `<circle cx="${n2(sx(p[0]))}" cy="${n2(sy(p[1]))}" r="2.5" fill="${esc(s.color)}"><title>${esc(`${s.name} at ${p[0]} ${o.xUnit}: ${p[1]}`)}</title></circle>`;
      }
    }
  });
  out += legend(o.series, left, 14);
  return out + "</svg>";
}

export interface BarGroup {
  label: string;
  values: ReadonlyArray<{ name: string; value: number }>;
}

/** Vertical grouped bars on a log10 axis (latencies spanning µs to seconds), values in µs. */
export function latencyBars(o: { name: string; label: string; groups: readonly BarGroup[]; colors: Readonly<Record<string, string>>; height?: number }): string {
  const vals = o.groups.flatMap((g) => g.values.map((v) => v.value)).filter((v) => v > 0);
  if (vals.length === 0) return noData(o.name, o.label);
  const H = o.height ?? 260;
  const left = 52, right = 14, top = 26, bottom = 34;
  const pw = W - left - right, ph = H - top - bottom;
  const lo = Math.floor(Math.log10(Math.min(...vals)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...vals)) + 1e-9));
  // Bars start at the bottom decade so even the smallest value shows as a stub.
  const sy = (v: number): number => top + ph - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * ph;
  let out = svgOpen(o.name, o.label, H);
  for (let e = lo; e <= hi; e++) {
    const y = n2(sy(10 ** e));
    out += `<line x1="${left}" x2="${W - right}" y1="${y}" y2="${y}" stroke="#e3e6ea"/><text x="${left - 6}" y="${n2(sy(10 ** e) + 4)}" text-anchor="end" fill="#666">${esc(micros(10 ** e))}</text>`;
  }
  const gw = pw / o.groups.length;
  const names = [...new Set(o.groups.flatMap((g) => g.values.map((v) => v.name)))];
  const bw = Math.min(18, (gw - 10) / Math.max(1, names.length));
  o.groups.forEach((g, gi) => {
    const x0 = left + gi * gw + (gw - bw * names.length) / 2;
    for (const v of g.values) {
      const k = names.indexOf(v.name);
      const y = sy(v.value);
      const h = Math.max(1, top + ph - y);
      out += `<rect class="bar" x="${n2(x0 + k * bw)}" y="${n2(top + ph - h)}" width="${n2(bw - 2)}" height="${n2(h)}" fill="${esc(o.colors[v.name] ?? "#888")}"><title>${esc(`${g.label} ${v.name}: ${micros(v.value)}`)}</title></rect>`;
    }
    out += `<text x="${n2(left + gi * gw + gw / 2)}" y="${H - bottom + 16}" text-anchor="middle" fill="#333">${esc(g.label)}</text>`;
  });
  out += `<line x1="${left}" x2="${W - right}" y1="${top + ph}" y2="${top + ph}" stroke="#999"/>`;
  out += legend(names.map((n) => ({ name: n, color: o.colors[n] ?? "#888" })), left, 14);
  out += `<text x="${W - right}" y="14" text-anchor="end" fill="#666">log scale</text>`;
  return out + "</svg>";
}

export interface StackRow {
  label: string;
  segments: ReadonlyArray<{ name: string; value: number; color: string }>;
}

/** One horizontal bar per row, split into segments by share of the row's total (100% wide). */
export function shareBars(o: { name: string; label: string; rows: readonly StackRow[] }): string {
  const rows = o.rows.filter((r) => r.segments.some((s) => s.value > 0));
  if (rows.length === 0) return noData(o.name, o.label);
  const rowH = 26, left = 64, right = 64, top = 8;
  const H = top + rows.length * rowH + 8;
  const pw = W - left - right;
  let out = svgOpen(o.name, o.label, H);
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const total = r.segments.reduce((a, s) => a + s.value, 0);
    out += `<text x="${left - 8}" y="${y + 15}" text-anchor="end" fill="#333">${esc(r.label)}</text>`;
    let x = left;
    for (const s of r.segments) {
      if (s.value <= 0) continue;
      const w = (s.value / total) * pw;
      out += `<rect class="bar" x="${n2(x)}" y="${y + 2}" width="${n2(Math.max(1, w))}" height="${rowH - 6}" fill="${esc(s.color)}" stroke="#fff"><title>${esc(`${r.label} ${s.name}: ${s.value} (${pct(s.value, total)})`)}</title></rect>`;
      if (w > s.name.length * 7 + 8) out += `<text x="${n2(x + w / 2)}" y="${y + 15}" text-anchor="middle" fill="#fff">${esc(s.name)}</text>`;
      x += w;
    }
    out += `<text x="${W - right + 6}" y="${y + 15}" fill="#666">${esc(compact(total))}</text>`;
  });
  return out + "</svg>";
}

/** Horizontal bars proportional to the largest value, with the value and share printed. */
export function hBars(o: { name: string; label: string; rows: ReadonlyArray<{ label: string; value: number; color: string }> }): string {
  const rows = o.rows.filter((r) => r.value > 0);
  if (rows.length === 0) return noData(o.name, o.label);
  const rowH = 24, left = 80, right = 110, top = 8;
  const H = top + rows.length * rowH + 8;
  const max = Math.max(...rows.map((r) => r.value));
  const total = rows.reduce((a, r) => a + r.value, 0);
  let out = svgOpen(o.name, o.label, H);
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const w = Math.max(2, (r.value / max) * (W - left - right));
    out += `<text x="${left - 8}" y="${y + 14}" text-anchor="end" fill="#333">${esc(r.label)}</text>`;
    out += `<rect class="bar" x="${left}" y="${y + 2}" width="${n2(w)}" height="${rowH - 6}" rx="2" fill="${esc(r.color)}"><title>${esc(`${r.label}: ${r.value}`)}</title></rect>`;
    out += `<text x="${n2(left + w + 6)}" y="${y + 14}" fill="#333">${esc(`${r.value} (${pct(r.value, total)})`)}</text>`;
  });
  return out + "</svg>";
}

export function pct(v: number, total: number): string {
  return `${((100 * v) / Math.max(1, total)).toFixed(1)}%`;
}

/** Microseconds as a short human duration. */
export function micros(us: number): string {
  if (us >= 1e6) return `${n2(us / 1e6)} s`;
  if (us >= 1e3) return `${n2(us / 1e3)} ms`;
  return `${n2(us)} µs`;
}
