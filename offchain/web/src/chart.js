// A small inline SVG line chart (no chart library: one series, min/max and date labels).
import { date } from "./format.js";

export function lineChart(points, label) {
  if (points.length < 2) return `<p class="muted">Not enough history yet for a chart of ${label}.</p>`;
  const W = 600, H = 160, P = 24;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (x) => P + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * P);
  const sy = (y) => H - P - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * P);
  const line = points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${label}">
    <polyline points="${line}"/>
    <text x="${P}" y="12">${y1.toPrecision(6)}</text><text x="${P}" y="${H - 4}">${y0.toPrecision(6)}</text>
    <text x="${W - P}" y="${H - 4}" text-anchor="end">${date(x1)}</text></svg>`;
}

// Period returns over 1d/7d/30d from a [[ts_seconds, value]] series (null when shorter).
export function windowReturns(points) {
  const out = {};
  for (const [name, secs] of [["1d", 86400], ["7d", 7 * 86400], ["30d", 30 * 86400]]) {
    if (points.length < 2) { out[name] = null; continue; }
    const [tEnd, vEnd] = points[points.length - 1];
    if (tEnd - points[0][0] < secs) { out[name] = null; continue; }
    const start = points.find(([t]) => t >= tEnd - secs);
    out[name] = start && start[1] ? vEnd / start[1] - 1 : null;
  }
  return out;
}

// The NAV-per-share series from an analytics report (GET /analytics/...?series=true), in USDC
// per whole share: the report's `value` is USDC units per raw share (1e-12 of a whole one).
export function navSeries(report) {
  const rows = report?.series || [];
  const keys = [["value", 1e6], ["equity", 1e-6]];
  const found = keys.find(([k]) => rows.some((r) => r[k] !== undefined && r[k] !== null));
  if (!found) return [];
  const [key, scale] = found;
  return rows.filter((r) => r[key] !== null).map((r) => [Math.floor(r.ts / 1000), Number(r[key]) * scale]);
}
