import { display, elementId } from "../display";
import { svgToPngBase64 } from "./png";
import { graphDot, type GraphOptions } from "./dot";
import { backwardSteps, playerHTML, stepDots, stripSVG } from "./steps";

export { graphDot };
export type { GraphOptions };

/**
 * Computational-graph drawings: Graphviz (compiled to WebAssembly, the
 * @viz-js/viz package; no system binary) lays out an SVG. Works from the
 * public shape of the graphs only: a scalar node's inputs, or a tensor's
 * `gradFn` chain.
 */

/**
 * The drawing as HTML: a PNG copy that a script replaces with the SVG. Where
 * scripts do not run (an untrusted notebook shows HTML sanitised), the PNG is
 * what remains.
 */
function graphHTML(svg: string, png: string | null): string {
  if (!png) return `<div class="kernel-lib-graph">${svg}</div>`;
  const id = elementId("graph");
  // The SVG travels inside a text/plain script: a sanitiser (JupyterLab's, the
  // classic Notebook's) drops a script with its content, whereas it would drop
  // the SVG's tags but keep their text, a paragraph of stray labels under the PNG.
  return `<div class="kernel-lib-graph" id="${id}"><img class="kernel-lib-static" alt="computational graph" src="data:image/png;base64,${png}"/></div>
<script type="text/plain" id="${id}-svg">${svg}</script>
<script type="text/javascript">(function () { var el = document.getElementById("${id}"); var src = document.getElementById("${id}-svg"); if (el && src) { el.innerHTML = src.textContent; src.remove(); } })();</script>`;
}

type Viz = { renderString(dot: string, options: { format: string }): string };
let viz: Promise<Viz> | null = null;
const vizInstance = (): Promise<Viz> => (viz ??= (require("@viz-js/viz") as { instance(): Promise<Viz> }).instance());

/** DOT to SVG, without the XML declaration and doctype (embedded in a notebook it is a fragment; nbconvert's HTML export rejects an encoding declaration in a string). */
async function render(dot: string): Promise<string> {
  return (await vizInstance()).renderString(dot, { format: "svg" }).replace(/^<\?xml[^>]*>\s*/, "").replace(/<!DOCTYPE[^>]*>\s*/, "");
}

/** The graph as an SVG document. */
export async function graphSVG(root: object, options: GraphOptions = {}): Promise<string> {
  return render(graphDot(root, options));
}

/**
 * Draw the computational graph that produced `root` in the notebook: each
 * node's op, value and gradient, coloured by role (parameter, data,
 * intermediate, output). `await drawGraph(loss, { parameters: [w0, w1] })`.
 * With `steps: true`, the backward pass replayed one node at a time.
 */
export async function drawGraph(root: object, options: GraphOptions = {}): Promise<void> {
  if (options.steps) return drawSteps(root, options);
  const svg = await graphSVG(root, options);
  const count = (svg.match(/class="node"/g) ?? []).length;
  // The SVG also inside HTML: nbconvert's HTML export passes image/svg+xml through an
  // HTML cleaner that strips Graphviz's markup, while text/html is kept as it is.
  const png = svgToPngBase64(svg);
  display({
    "text/html": graphHTML(svg, png),
    "image/svg+xml": svg,
    ...(png ? { "image/png": png } : {}),
    "text/plain": `computational graph with ${count} nodes`,
  });
}

/** The step-through frames as SVG, with their captions. */
export async function stepFrames(root: object, options: GraphOptions = {}): Promise<{ svgs: string[]; captions: string[] }> {
  const { drawing, steps } = backwardSteps(root, options);
  const v = await vizInstance();
  const measure = (dot: string) => {
    const laid = JSON.parse(v.renderString(dot, { format: "json" })) as { objects?: Array<{ name: string; width?: string; height?: string }> };
    return new Map((laid.objects ?? []).filter((o) => o.width).map((o) => [o.name, [Number(o.width), Number(o.height)] as [number, number]]));
  };
  const svgs: string[] = [];
  for (const dot of stepDots(drawing, steps, options, measure)) svgs.push(await render(dot));
  return { svgs, captions: steps.map((s) => s.caption) };
}

async function drawSteps(root: object, options: GraphOptions): Promise<void> {
  const { svgs, captions } = await stepFrames(root, options);
  const strip = stripSVG(svgs, captions);
  const png = svgToPngBase64(strip);
  display({
    "text/html": playerHTML(svgs, captions, png),
    ...(png ? { "image/png": png } : {}),
    "text/plain": [`the backward pass in ${svgs.length - 1} step${svgs.length === 2 ? "" : "s"}:`, ...captions].join("\n"),
  });
}
