import { readFileSync } from "node:fs";
import { display, elementId, inDeno, PLOTLY_SCRIPT_CLASS } from "../display";
import { esc, renderSvg, type SvgTrace } from "./svg";
import { svgToPngBase64 } from "./png";

/**
 * Plot inputs: numbers, things with a numeric `data` (scalar Variables), or
 * anything whose `data()` gives the numbers (a CPU tensor).
 */
export type Values = Iterable<number | { data: number }> | ArrayLike<number> | { data(): ArrayLike<number> };

export interface TraceOptions {
  /** Legend entry. */
  name?: string;
  color?: string;
}

export interface FigureOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Pixel height of the figure (the width follows the page). */
  height?: number;
  /** Logarithmic axes (the values must be positive). */
  logX?: boolean;
  logY?: boolean;
}

interface ScatterTrace {
  type: "scatter";
  mode: "markers" | "lines" | "lines+markers";
  x: number[];
  y: number[];
  name?: string;
  marker?: { color: string; size?: number };
  line?: { color: string };
}
interface ContourTrace {
  type: "contour";
  x: number[];
  y: number[];
  /** z[j][i] is the value at (x[i], y[j]), as Plotly wants it. */
  z: number[][];
  name?: string;
  ncontours: number;
  colorscale: string;
  showscale: boolean;
  contours: { coloring: "heatmap" | "lines" };
}
type Trace = ScatterTrace | ContourTrace;

export interface ContourOptions {
  name?: string;
  /** About how many contour levels (default 20). */
  levels?: number;
  /** Filled bands (default) or lines only. */
  fill?: boolean;
}

function toNumbers(what: string, values: Values): number[] {
  if (typeof (values as { data?: unknown }).data === "function") values = Array.from((values as { data(): ArrayLike<number> }).data());
  const out: number[] = [];
  const items = Symbol.iterator in Object(values) ? (values as Iterable<unknown>) : Array.from(values as ArrayLike<number>);
  for (const v of items) {
    const n = typeof v === "number" ? v : (v as { data?: unknown })?.data;
    if (typeof n !== "number" || !Number.isFinite(n)) {
      throw new TypeError(`plot: ${what}[${out.length}] is ${String(n)}; every value must be a finite number`);
    }
    out.push(n);
  }
  return out;
}

/** A Plotly figure built trace by trace; `show()` displays it in the notebook. */
export class Figure {
  readonly traces: Trace[] = [];
  constructor(readonly options: FigureOptions = {}) {}

  /** Points as markers. */
  scatter(x: Values, y: Values, options: TraceOptions = {}): this {
    return this.addTrace("markers", x, y, options);
  }

  /** Points joined by a line. */
  line(x: Values, y: Values, options: TraceOptions = {}): this {
    return this.addTrace("lines", x, y, options);
  }

  /**
   * Contours of z over the grid x × y: z[j][i] is the value at (x[i], y[j])
   * (rows follow y), or a function evaluated at each grid point. Lines and
   * markers added afterwards are drawn over it (a path over a loss surface).
   */
  contour(xs: Values, ys: Values, z: number[][] | ((x: number, y: number) => number), options: ContourOptions = {}): this {
    const x = toNumbers("x", xs);
    const y = toNumbers("y", ys);
    const grid = typeof z === "function" ? y.map((yv) => x.map((xv) => z(xv, yv))) : z;
    if (!Array.isArray(grid) || grid.length !== y.length || grid.some((row) => !Array.isArray(row) || row.length !== x.length)) {
      throw new RangeError(`plot: contour needs z as ${y.length} rows (one per y) of ${x.length} values (one per x)`);
    }
    grid.forEach((row, j) => toNumbers(`z[${j}]`, row));
    const trace: ContourTrace = { type: "contour", x, y, z: grid, ncontours: options.levels ?? 20, colorscale: "Viridis", showscale: false, contours: { coloring: options.fill === false ? "lines" : "heatmap" } };
    if (options.name !== undefined) trace.name = options.name;
    this.traces.push(trace);
    return this;
  }

  private addTrace(mode: ScatterTrace["mode"], xs: Values, ys: Values, options: TraceOptions): this {
    const x = toNumbers("x", xs);
    const y = toNumbers("y", ys);
    if (x.length !== y.length) {
      throw new RangeError(`plot: x has ${x.length} values but y has ${y.length}`);
    }
    for (const [axis, on, v] of [["x", this.options.logX, x], ["y", this.options.logY, y]] as const) {
      if (on && v.some((n) => n <= 0)) throw new RangeError(`plot: the ${axis} axis is logarithmic, so every ${axis} value must be positive`);
    }
    const trace: ScatterTrace = { type: "scatter", mode, x, y };
    if (options.name !== undefined) trace.name = options.name;
    if (options.color !== undefined) {
      if (mode === "lines") trace.line = { color: options.color };
      else trace.marker = { color: options.color };
    }
    this.traces.push(trace);
    return this;
  }

  /** The figure as Plotly JSON: `{ data, layout }`. */
  toJSON(): { data: Trace[]; layout: Record<string, unknown> } {
    const { title, xLabel, yLabel, height = 420 } = this.options;
    const layout: Record<string, unknown> = {
      height,
      margin: { l: 60, r: 20, t: title ? 50 : 20, b: 50 },
      showlegend: this.traces.some((t) => t.name !== undefined && t.type === "scatter"),
    };
    if (title) layout.title = { text: title };
    const { logX, logY } = this.options;
    if (xLabel || logX) layout.xaxis = { ...(xLabel ? { title: { text: xLabel } } : {}), ...(logX ? { type: "log" } : {}) };
    if (yLabel || logY) layout.yaxis = { ...(yLabel ? { title: { text: yLabel } } : {}), ...(logY ? { type: "log" } : {}) };
    return { data: this.traces, layout };
  }

  /** A one-line description, shown where no HTML can be. */
  toString(): string {
    const counts = this.traces.map((t) => (t.type === "contour" ? `contour over ${t.x.length} x ${t.y.length} points` : `${t.mode === "lines" ? "line" : "scatter"} of ${t.x.length} points`));
    return `Figure${this.options.title ? ` "${this.options.title}"` : ""}: ${counts.join(", ") || "no traces"}`;
  }

  /** The HTML that draws this figure; includes plotly.js when `withLibrary`. */
  toHTML(withLibrary: boolean, fallbackPng: string | null = null): string {
    const id = elementId("plot");
    // Where scripts do not run (an untrusted notebook shows this HTML sanitised), the
    // static picture inside the div is what stays; the script replaces it with the figure.
    const fallback = fallbackPng ? `<img class="kernel-lib-static" alt="${esc(this.toString())}" src="data:image/png;base64,${fallbackPng}"/>` : "";
    const figure = JSON.stringify(this.toJSON()).replace(/</g, "\\u003c");
    const library = withLibrary ? `<script type="text/javascript" class="${PLOTLY_SCRIPT_CLASS}">${plotlySource()}</script>\n` : "";
    // The figure waits briefly for the library, and says so plainly if it never
    // arrives (e.g. the output that carried it was cleared).
    return `${library}<div id="${id}" class="kernel-lib-plot" style="width:100%;height:${this.options.height ?? 420}px">${fallback}</div>
<script type="text/javascript">(function () {
  var fig = ${figure};
  var tries = 0;
  function draw() {
    var el = document.getElementById("${id}");
    if (!el) return;
    if (window.Plotly) { el.innerHTML = ""; window.Plotly.newPlot(el, fig.data, fig.layout, { responsive: true, displaylogo: false }); return; }
    if (++tries < 100) { setTimeout(draw, 50); return; }
    el.style.height = "auto";
    el.textContent = "plotly.js is not loaded in this page. Run resetPlotly() from kernel-lib in a cell, then re-run this cell; where each output is isolated (Colab-like hosts), run plot.config({ mode: 'self-contained' }) first.";
  }
  draw();
})();</script>`;
  }

  /** A static picture of the figure (SVG), for places where no script runs. */
  toSVG(): string {
    const { title, xLabel, yLabel, height } = this.options;
    const traces: SvgTrace[] = this.traces.map((t) =>
      t.type === "contour"
        ? { mode: "heatmap", x: t.x, y: t.y, z: t.z }
        : { mode: t.mode, x: t.x, y: t.y, name: t.name, color: t.line?.color ?? t.marker?.color },
    );
    return renderSvg({ traces, title, xLabel, yLabel, height, logX: this.options.logX, logY: this.options.logY });
  }

  /**
   * Display the figure in the current cell as one bundle: interactive HTML
   * (classic Notebook, JupyterLab, nbconvert exports), Plotly's own JSON
   * (JupyterLab's plotly extension, VS Code) and a static SVG (untrusted
   * notebooks, previews without scripts). Each front end shows what it can.
   *
   * Under Deno's kernel the bundle has no HTML: its first large message
   * (plotly.js is 4.8 MB) fails the cell unless the cell awaits it (see
   * displaysSent), so VS Code and JupyterLab draw the Plotly JSON or the SVG.
   */
  show(): void {
    const withLibrary = mode === "self-contained" || !libraryLoaded;
    const deno = inDeno();
    const svg = this.toSVG();
    const png = svgToPngBase64(svg);
    const shown = display({
      ...(deno ? {} : { "text/html": this.toHTML(withLibrary, png) }),
      "application/vnd.plotly.v1+json": this.toJSON(),
      "image/svg+xml": svg,
      ...(png ? { "image/png": png } : {}),
      "text/plain": this.toString(),
    });
    if (shown && !deno) libraryLoaded = true;
  }
}

let plotlyCache: string | null = null;
function plotlySource(): string {
  plotlyCache ??= readFileSync(require.resolve("plotly.js-dist-min"), "utf8").replace(/<\/script/gi, "<\\/script");
  return plotlyCache;
}

/** Whether plotly.js was already sent to the page in this kernel session. */
let libraryLoaded = false;

/**
 * How figures get plotly.js: "once" per kernel session (pages that share one
 * window: Notebook, JupyterLab, exports), or "self-contained" in every figure
 * (hosts that isolate each output in its own frame; 4.8 MB each). "auto"
 * reads KERNEL_LIB_PLOTLY_MODE and otherwise means "once".
 */
export type PlotlyMode = "auto" | "once" | "self-contained";
let mode: Exclude<PlotlyMode, "auto"> = fromEnv();
function fromEnv(): Exclude<PlotlyMode, "auto"> {
  return process.env.KERNEL_LIB_PLOTLY_MODE === "self-contained" ? "self-contained" : "once";
}

function config(options: { mode: PlotlyMode }): void {
  if (!["auto", "once", "self-contained"].includes(options.mode)) {
    throw new RangeError(`plot.config: mode must be "auto", "once" or "self-contained", got ${JSON.stringify(options.mode)}`);
  }
  mode = options.mode === "auto" ? fromEnv() : options.mode;
}

/** Send plotly.js again with the next figure (after clearing the output that carried it). */
export function resetPlotly(): void {
  libraryLoaded = false;
}

/** Start a figure: `plot.figure({ title }).scatter(x, y).line(x, fit).show()`. */
function figure(options: FigureOptions = {}): Figure {
  return new Figure(options);
}

/** Show a scatter plot of y against x. */
function scatter(x: Values, y: Values, options: FigureOptions & TraceOptions = {}): void {
  new Figure(options).scatter(x, y, options).show();
}

/** Show a line plot of y against x. */
function line(x: Values, y: Values, options: FigureOptions & TraceOptions = {}): void {
  new Figure(options).line(x, y, options).show();
}

/**
 * A loss curve that redraws in place while a model trains, at most every
 * `intervalMs` (so a 1,000-step loop costs little); `done()` draws the last
 * point. `const live = plot.liveLoss(); ... live.update(step, loss); ... live.done();`
 */
export class LiveLoss {
  private readonly steps: number[] = [];
  private readonly losses: number[] = [];
  private readonly id = elementId("live");
  private last = 0;
  private shown = false;

  constructor(
    readonly options: FigureOptions & { intervalMs?: number } = {},
  ) {}

  /** Record the loss at a step; redraw if enough time has passed. */
  update(step: number, loss: number): void {
    if (!Number.isFinite(loss)) throw new RangeError(`liveLoss: the loss at step ${step} is ${loss}`);
    this.steps.push(step);
    this.losses.push(loss);
    const now = Date.now();
    if (!this.shown || now - this.last >= (this.options.intervalMs ?? 250)) this.draw(now);
  }

  /** Draw the final state (with a PNG copy, for untrusted notebooks). */
  done(): void {
    this.draw(Date.now(), true);
  }

  private draw(now: number, final = false): void {
    this.last = now;
    const n = this.steps.length;
    const text = n ? `step ${this.steps[n - 1]}: loss ${this.losses[n - 1].toPrecision(5)}` : "no steps yet";
    const svg = renderSvg({
      traces: [{ mode: "lines", x: this.steps, y: this.losses }],
      title: `${this.options.title ?? "Training loss"} (${text})`,
      xLabel: this.options.xLabel ?? "step",
      yLabel: this.options.yLabel ?? "loss",
      height: this.options.height ?? 300,
    });
    const png = final ? svgToPngBase64(svg) : null;
    display({ "image/svg+xml": svg, ...(png ? { "image/png": png } : {}), "text/plain": text }, { displayId: this.id, update: this.shown });
    this.shown = true;
  }
}

function liveLoss(options: FigureOptions & { intervalMs?: number } = {}): LiveLoss {
  return new LiveLoss(options);
}

export const plot = { figure, scatter, line, liveLoss, config };
