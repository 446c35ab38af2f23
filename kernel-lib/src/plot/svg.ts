/**
 * A small static SVG renderer for kernel-lib's figures: scatter and line
 * traces, contours (as a heatmap of the grid's cells), axes with round
 * ticks, labels, title and legend. It is what shows
 * where no script runs (an untrusted notebook, GitHub's preview) and draws the
 * live training view.
 */

export interface SvgTrace {
  mode: "markers" | "lines" | "lines+markers" | "heatmap";
  x: number[];
  y: number[];
  /** heatmap: z[j][i] at (x[i], y[j]) */
  z?: number[][];
  name?: string;
  color?: string;
}

// Viridis at five stops (Plotly's contour colours), interpolated.
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function viridis(f: number): string {
  const t = Math.min(1, Math.max(0, f)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(t));
  const c = VIRIDIS[i].map((v, k) => Math.round(v + (VIRIDIS[i + 1][k] - v) * (t - i)));
  return `rgb(${c.join(",")})`;
}

export interface SvgFigure {
  traces: SvgTrace[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  logX?: boolean;
  logY?: boolean;
}

// Plotly's default colour sequence, so the static picture matches the live one.
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** Text safe inside XML and HTML, in element content and in quoted attributes. */
export const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return niceTicks(lo - pad, hi + pad, target);
  }
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const label = (v: number) => (Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(6))));

export function renderSvg(fig: SvgFigure): string {
  const width = fig.width ?? 640;
  const height = fig.height ?? 360;
  const m = { left: 64, right: fig.traces.some((t) => t.name && t.mode !== "heatmap") ? 120 : 20, top: fig.title ? 36 : 16, bottom: 48 };
  // a logarithmic axis is drawn as a linear one over log10 of the values, with ticks at powers of ten
  const lx = (v: number) => (fig.logX ? Math.log10(v) : v);
  const ly = (v: number) => (fig.logY ? Math.log10(v) : v);
  const xs = fig.traces.flatMap((t) => t.x.map(lx));
  const ys = fig.traces.flatMap((t) => t.y.map(ly));
  const [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  const [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  const decades = (lo: number, hi: number) => {
    const t: number[] = [];
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) t.push(e);
    return t.length >= 2 ? t : [Math.floor(lo) - 1, Math.floor(lo) + 1];
  };
  const xt = fig.logX ? decades(x0, x1) : niceTicks(x0, x1);
  const yt = fig.logY ? decades(y0, y1) : niceTicks(y0, y1);
  const xLab = (t: number) => (fig.logX ? label(10 ** t) : label(t));
  const yLab = (t: number) => (fig.logY ? label(10 ** t) : label(t));
  const [xlo, xhi] = [Math.min(x0, xt[0]), Math.max(x1, xt[xt.length - 1])];
  const [ylo, yhi] = [Math.min(y0, yt[0]), Math.max(y1, yt[yt.length - 1])];
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const pxl = (v: number) => m.left + ((v - xlo) / (xhi - xlo || 1)) * pw;
  const pyl = (v: number) => m.top + ph - ((v - ylo) / (yhi - ylo || 1)) * ph;
  const px = (v: number) => pxl(lx(v));
  const py = (v: number) => pyl(ly(v));
  const r = (v: number) => v.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="#e5ecf6"/>`,
  ];
  for (const t of xt) out.push(`<line x1="${r(pxl(t))}" y1="${m.top}" x2="${r(pxl(t))}" y2="${m.top + ph}" stroke="#ffffff"/><text x="${r(pxl(t))}" y="${m.top + ph + 15}" text-anchor="middle" fill="#444">${xLab(t)}</text>`);
  for (const t of yt) out.push(`<line x1="${m.left}" y1="${r(pyl(t))}" x2="${m.left + pw}" y2="${r(pyl(t))}" stroke="#ffffff"/><text x="${m.left - 6}" y="${r(pyl(t) + 4)}" text-anchor="end" fill="#444">${yLab(t)}</text>`);
  if (fig.title) out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" fill="#222">${esc(fig.title)}</text>`);
  if (fig.xLabel) out.push(`<text x="${m.left + pw / 2}" y="${height - 10}" text-anchor="middle" font-size="13" fill="#222">${esc(fig.xLabel)}</text>`);
  if (fig.yLabel) out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="13" fill="#222">${esc(fig.yLabel)}</text>`);
  // heatmaps first, under the lines and markers: each grid point's cell, halfway to its neighbours
  for (const t of fig.traces) {
    if (t.mode !== "heatmap" || !t.z) continue;
    const zs = t.z.flat();
    const [z0, z1] = [Math.min(...zs), Math.max(...zs)];
    const edges = (v: number[]) => v.map((_, i) => [i === 0 ? v[0] : (v[i - 1] + v[i]) / 2, i === v.length - 1 ? v[i] : (v[i] + v[i + 1]) / 2]);
    const ex = edges(t.x);
    const ey = edges(t.y);
    const cells: string[] = [];
    t.z.forEach((row, j) =>
      row.forEach((z, i) => {
        const [xa, xb] = ex[i];
        const [ya, yb] = ey[j];
        cells.push(`<rect x="${r(px(xa))}" y="${r(py(yb))}" width="${r(px(xb) - px(xa) + 0.5)}" height="${r(py(ya) - py(yb) + 0.5)}" fill="${viridis((z - z0) / (z1 - z0 || 1))}"/>`);
      }),
    );
    out.push(`<g class="heatmap">${cells.join("")}</g>`);
  }
  let named = 0;
  fig.traces.forEach((t, i) => {
    if (t.mode === "heatmap") return;
    const colour = t.color ?? PALETTE[i % PALETTE.length];
    if (t.mode !== "markers" && t.x.length > 0) {
      out.push(`<polyline class="trace" fill="none" stroke="${colour}" stroke-width="2" points="${t.x.map((x, j) => `${r(px(x))},${r(py(t.y[j]))}`).join(" ")}"/>`);
    }
    if (t.mode !== "lines") {
      out.push(`<g class="trace" fill="${colour}">${t.x.map((x, j) => `<circle cx="${r(px(x))}" cy="${r(py(t.y[j]))}" r="3"/>`).join("")}</g>`);
    }
    if (t.name) {
      const ly = m.top + 12 + named++ * 18;
      const lx = m.left + pw + 10;
      out.push(
        (t.mode === "markers" ? `<circle cx="${lx + 10}" cy="${ly - 4}" r="4" fill="${colour}"/>` : `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 20}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"/>`) +
          `<text x="${lx + 26}" y="${ly}" fill="#222">${esc(t.name)}</text>`,
      );
    }
  });
  out.push("</svg>");
  return out.join("\n");
}
