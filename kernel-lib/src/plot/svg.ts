/**
 * A small static SVG renderer for kernel-lib's figures: scatter and line
 * traces, axes with round ticks, labels, title and legend. It is what shows
 * where no script runs (an untrusted notebook, GitHub's preview) and draws the
 * live training view.
 */

export interface SvgTrace {
  mode: "markers" | "lines" | "lines+markers";
  x: number[];
  y: number[];
  name?: string;
  color?: string;
}

export interface SvgFigure {
  traces: SvgTrace[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
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
  const m = { left: 64, right: fig.traces.some((t) => t.name) ? 120 : 20, top: fig.title ? 36 : 16, bottom: 48 };
  const xs = fig.traces.flatMap((t) => t.x);
  const ys = fig.traces.flatMap((t) => t.y);
  const [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  const [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  const xt = niceTicks(x0, x1);
  const yt = niceTicks(y0, y1);
  const [xlo, xhi] = [Math.min(x0, xt[0]), Math.max(x1, xt[xt.length - 1])];
  const [ylo, yhi] = [Math.min(y0, yt[0]), Math.max(y1, yt[yt.length - 1])];
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const px = (v: number) => m.left + ((v - xlo) / (xhi - xlo || 1)) * pw;
  const py = (v: number) => m.top + ph - ((v - ylo) / (yhi - ylo || 1)) * ph;
  const r = (v: number) => v.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="#e5ecf6"/>`,
  ];
  for (const t of xt) out.push(`<line x1="${r(px(t))}" y1="${m.top}" x2="${r(px(t))}" y2="${m.top + ph}" stroke="#ffffff"/><text x="${r(px(t))}" y="${m.top + ph + 15}" text-anchor="middle" fill="#444">${label(t)}</text>`);
  for (const t of yt) out.push(`<line x1="${m.left}" y1="${r(py(t))}" x2="${m.left + pw}" y2="${r(py(t))}" stroke="#ffffff"/><text x="${m.left - 6}" y="${r(py(t) + 4)}" text-anchor="end" fill="#444">${label(t)}</text>`);
  if (fig.title) out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" fill="#222">${esc(fig.title)}</text>`);
  if (fig.xLabel) out.push(`<text x="${m.left + pw / 2}" y="${height - 10}" text-anchor="middle" font-size="13" fill="#222">${esc(fig.xLabel)}</text>`);
  if (fig.yLabel) out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="13" fill="#222">${esc(fig.yLabel)}</text>`);
  fig.traces.forEach((t, i) => {
    const colour = t.color ?? PALETTE[i % PALETTE.length];
    if (t.mode !== "markers" && t.x.length > 0) {
      out.push(`<polyline class="trace" fill="none" stroke="${colour}" stroke-width="2" points="${t.x.map((x, j) => `${r(px(x))},${r(py(t.y[j]))}`).join(" ")}"/>`);
    }
    if (t.mode !== "lines") {
      out.push(`<g class="trace" fill="${colour}">${t.x.map((x, j) => `<circle cx="${r(px(x))}" cy="${r(py(t.y[j]))}" r="3"/>`).join("")}</g>`);
    }
    if (t.name) {
      const ly = m.top + 12 + i * 18;
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
