import { display } from "../display";
import { svgToPngBase64 } from "./png";
import { esc } from "./svg";

/**
 * Computational-graph drawings: Graphviz (compiled to WebAssembly, the
 * @viz-js/viz package; no system binary) lays out an SVG. Works from the
 * public shape of the graphs only: a scalar node's inputs, or a tensor's
 * `gradFn` chain.
 */

/**
 * What a scalar node exposes: kernel-lib's Variable, or a lesson's own Value
 * class. Its inputs are `inputs` or `children`; an engine that stores local
 * gradients at forward time (`localGrads`, one per child) gets them drawn on
 * the edges.
 */
interface ScalarNode {
  data: number;
  grad: number;
  op?: string;
  label?: string;
  inputs?: ScalarNode[];
  children?: ScalarNode[];
  localGrads?: number[];
}


/** What a tensor exposes. */
interface TensorNode {
  shape: number[];
  requiresGrad: boolean;
  grad: unknown;
  gradFn: OpNode | null;
}
interface OpNode {
  name: string;
  inputs: TensorNode[];
}

export interface GraphOptions {
  /** Leaves to colour as parameters (the rest are data). */
  parameters?: object[];
  /** Names for leaves, e.g. new Map([[w, "w"]]); scalar nodes also use their `label`. */
  names?: Map<object, string>;
  /** Left to right (default) or top to bottom. */
  direction?: "LR" | "TB";
}

const COLOURS = {
  parameter: "#9ecae1",
  data: "#e0e0e0",
  intermediate: "#ffffff",
  output: "#fdae6b",
  op: "#fff7bc",
};

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString());

function isScalar(x: object): x is ScalarNode {
  const v = x as ScalarNode;
  return typeof v.data === "number" && (Array.isArray(v.inputs) || Array.isArray(v.children));
}
function isTensor(x: object): x is TensorNode {
  return Array.isArray((x as TensorNode).shape) && "gradFn" in x;
}

/** The graph in Graphviz's DOT language. */
export function graphDot(root: object, options: GraphOptions = {}): string {
  const params = new Set(options.parameters ?? []);
  const ids = new Map<object, string>();
  const id = (o: object) => {
    let v = ids.get(o);
    if (!v) ids.set(o, (v = `n${ids.size}`));
    return v;
  };
  const lines: string[] = [];
  const node = (o: object, label: string, fill: string, shape = "box") =>
    lines.push(`  ${id(o)} [label=<${label}>, shape=${shape}, style="rounded,filled", fillcolor="${fill}"];`);
  const edge = (from: object, to: object, label?: string) =>
    lines.push(`  ${id(from)} -> ${id(to)}${label ? ` [label=<${label}>, fontsize=10, fontcolor="#1f5fa8"]` : ""};`);
  const seen = new Set<object>();
  const stack: object[] = [];

  if (isScalar(root)) {
    stack.push(root);
    while (stack.length > 0) {
      const v = stack.pop() as ScalarNode;
      if (seen.has(v)) continue;
      seen.add(v);
      const children = v.inputs ?? v.children ?? [];
      const inputs = [...new Set(children)]; // a child used twice is one edge
      const leaf = inputs.length === 0;
      const role = v === root ? "output" : leaf ? (params.has(v) ? "parameter" : "data") : "intermediate";
      const name = options.names?.get(v) ?? v.label ?? "";
      const op = v.op ?? "";
      // An unnamed leaf: a parameter if listed as one, else a constant.
      const title = [name, leaf ? "" : op].filter(Boolean).join(" = ") || (leaf ? (params.has(v) ? "parameter" : "constant") : op || "node");
      node(v, `<b>${esc(title)}</b><br/>data ${esc(fmt(v.data))}<br/>grad ${esc(fmt(v.grad))}`, COLOURS[role]);
      for (const input of inputs) {
        // The local gradient(s) d(v)/d(input): a child used twice shows both.
        const locals = v.localGrads ? children.flatMap((c, i) => (c === input && typeof v.localGrads![i] === "number" ? [fmt(v.localGrads![i])] : [])) : [];
        edge(input, v, locals.length ? `local ${esc(locals.join(", "))}` : undefined);
        stack.push(input);
      }
    }
  } else if (isTensor(root)) {
    const shape = (t: TensorNode) => (t.shape.length ? `shape [${t.shape.join(", ")}]` : "scalar");
    node(root, `<b>${esc(options.names?.get(root) ?? "output")}</b><br/>${shape(root)}`, COLOURS.output);
    if (root.gradFn) {
      edge(root.gradFn, root);
      stack.push(root.gradFn);
    }
    while (stack.length > 0) {
      const op = stack.pop() as OpNode;
      if (seen.has(op)) continue;
      seen.add(op);
      node(op, esc(op.name), COLOURS.op, "ellipse");
      for (const t of op.inputs) {
        if (!t.requiresGrad) continue;
        if (t.gradFn) {
          edge(t.gradFn, op);
          stack.push(t.gradFn);
        } else if (!seen.has(t)) {
          seen.add(t);
          const role = params.has(t) || t.requiresGrad ? "parameter" : "data";
          const name = options.names?.get(t) ?? "leaf";
          node(t, `<b>${esc(name)}</b><br/>${shape(t)}<br/>${t.grad ? "grad filled" : "grad null"}`, COLOURS[role]);
          edge(t, op);
        } else edge(t, op);
      }
    }
  } else {
    throw new TypeError("drawGraph: expected a Variable, a Tensor, or a node with numeric `data`, `grad` and an `inputs` or `children` array");
  }
  return `digraph G {\n  rankdir=${options.direction ?? "LR"};\n  node [fontname="Helvetica", fontsize=11];\n  edge [color="#555555"];\n${lines.join("\n")}\n}`;
}

/**
 * The drawing as HTML: a PNG copy that a script replaces with the SVG. Where
 * scripts do not run (an untrusted notebook shows HTML sanitised), the PNG is
 * what remains.
 */
function graphHTML(svg: string, png: string | null): string {
  if (!png) return `<div class="kernel-lib-graph">${svg}</div>`;
  const id = `kernel-lib-graph-${Math.random().toString(36).slice(2)}`;
  // The SVG travels inside a text/plain script: a sanitiser (JupyterLab's, the
  // classic Notebook's) drops a script with its content, whereas it would drop
  // the SVG's tags but keep their text, a paragraph of stray labels under the PNG.
  return `<div class="kernel-lib-graph" id="${id}"><img class="kernel-lib-static" alt="computational graph" src="data:image/png;base64,${png}"/></div>
<script type="text/plain" id="${id}-svg">${svg}</script>
<script type="text/javascript">(function () { var el = document.getElementById("${id}"); var src = document.getElementById("${id}-svg"); if (el && src) { el.innerHTML = src.textContent; src.remove(); } })();</script>`;
}

type Viz = { renderString(dot: string, options: { format: string }): string };
let viz: Promise<Viz> | null = null;

/** The graph as an SVG document. */
export async function graphSVG(root: object, options: GraphOptions = {}): Promise<string> {
  viz ??= (require("@viz-js/viz") as { instance(): Promise<Viz> }).instance();
  const svg = (await viz).renderString(graphDot(root, options), { format: "svg" });
  // Without the XML declaration and doctype: embedded in a notebook it is a fragment
  // (nbconvert's HTML export rejects an encoding declaration in a string).
  return svg.replace(/^<\?xml[^>]*>\s*/, "").replace(/<!DOCTYPE[^>]*>\s*/, "");
}

/**
 * Draw the computational graph that produced `root` in the notebook: each
 * node's op, value and gradient, coloured by role (parameter, data,
 * intermediate, output). `await drawGraph(loss, { parameters: [w0, w1] })`.
 */
export async function drawGraph(root: object, options: GraphOptions = {}): Promise<void> {
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
