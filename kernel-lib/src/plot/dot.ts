/**
 * The computational graph as nodes and edges (from the public shape of the
 * graphs only: a scalar node's inputs, or a tensor's `gradFn` chain), and as
 * Graphviz's DOT language, with a step-through frame over it if given
 * (./steps).
 */
import { esc } from "./svg";

/**
 * What a scalar node exposes: kernel-lib's Variable, or a lesson's own Value
 * class. Its inputs are `inputs` or `children`; an engine that stores local
 * gradients at forward time (`localGrads`, one per child) gets them drawn on
 * the edges.
 */
export interface ScalarNode {
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
  /**
   * Replay the backward pass one node at a time, with buttons to step
   * through it (the active node, what each edge carries, the running sums);
   * where scripts do not run, a strip of all the steps shows instead.
   */
  steps?: boolean;
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

/** One box or oval of a drawing. `gradLine` is the line that shows its gradient (a step-through frame replaces it). */
export interface DrawnNode {
  obj: object;
  title: string;
  lines: string[];
  gradLine: number | null;
  fill: string;
  shape: "box" | "ellipse";
}
/** An edge from an input to its consumer (gradients flow against it). */
export interface DrawnEdge {
  from: object;
  to: object;
  label?: string;
}
export interface Drawing {
  /** Nodes and edges in the order of the walk (Graphviz's layout depends on it). */
  items: Array<DrawnNode | DrawnEdge>;
  id(o: object): string;
}
const isNode = (x: DrawnNode | DrawnEdge): x is DrawnNode => "obj" in x;

/** The nodes and edges of the graph behind `root`, with their labels and colours. */
export function drawing(root: object, options: GraphOptions = {}): Drawing {
  const params = new Set(options.parameters ?? []);
  const ids = new Map<object, string>();
  const id = (o: object) => {
    let v = ids.get(o);
    if (!v) ids.set(o, (v = `n${ids.size}`));
    return v;
  };
  const items: Array<DrawnNode | DrawnEdge> = [];
  const node = (obj: object, title: string, lines: string[], gradLine: number | null, fill: string, shape: "box" | "ellipse" = "box") => {
    id(obj);
    items.push({ obj, title, lines, gradLine, fill, shape });
  };
  const edge = (from: object, to: object, label?: string) => {
    id(from);
    id(to);
    items.push({ from, to, label });
  };
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
      node(v, title, [`data ${fmt(v.data)}`, `grad ${fmt(v.grad)}`], 1, COLOURS[role]);
      for (const input of inputs) {
        // The local gradient(s) d(v)/d(input): a child used twice shows both.
        const locals = v.localGrads ? children.flatMap((c, i) => (c === input && typeof v.localGrads![i] === "number" ? [fmt(v.localGrads![i])] : [])) : [];
        edge(input, v, locals.length ? `local ${locals.join(", ")}` : undefined);
        stack.push(input);
      }
    }
  } else if (isTensor(root)) {
    const shape = (t: TensorNode) => (t.shape.length ? `shape [${t.shape.join(", ")}]` : "scalar");
    node(root, options.names?.get(root) ?? "output", [shape(root)], null, COLOURS.output);
    if (root.gradFn) {
      edge(root.gradFn, root);
      stack.push(root.gradFn);
    }
    while (stack.length > 0) {
      const op = stack.pop() as OpNode;
      if (seen.has(op)) continue;
      seen.add(op);
      node(op, op.name, [], null, COLOURS.op, "ellipse");
      for (const t of op.inputs) {
        if (!t.requiresGrad) continue;
        if (t.gradFn) {
          edge(t.gradFn, op);
          stack.push(t.gradFn);
        } else if (!seen.has(t)) {
          seen.add(t);
          const role = params.has(t) || t.requiresGrad ? "parameter" : "data";
          node(t, options.names?.get(t) ?? "leaf", [shape(t), t.grad ? "grad filled" : "grad null"], 1, COLOURS[role]);
          edge(t, op);
        } else edge(t, op);
      }
    }
  } else {
    throw new TypeError("drawGraph: expected a Variable, a Tensor, or a node with numeric `data`, `grad` and an `inputs` or `children` array");
  }
  return { items, id };
}

/** What a step-through frame shows over a drawing (see ./steps). */
export interface FrameOverlay {
  /** The node passing its gradient on in this step. */
  active: object | null;
  /** Nodes that have passed theirs on. */
  done: Set<object>;
  /** The gradient each node holds so far, as text. */
  grads: Map<object, string>;
  /** What each edge has carried so far, by `from->to` ids. */
  carried: Map<string, string>;
  /** The edges carrying in this step. */
  hot: Set<string>;
}

/**
 * A drawing in Graphviz's DOT language, with a step-through frame over it if
 * given. So that all frames share one layout, `sizes` (inches, by node id)
 * gives every node its size in the largest frame, and `final` (what each
 * edge carries by the end) labels every edge, hidden until it carries.
 */
export function toDot(d: Drawing, options: GraphOptions = {}, frame?: FrameOverlay, sizes?: Map<string, [number, number]>, final?: Map<string, string>): string {
  const lines: string[] = [];
  for (const n of d.items) {
    if (!isNode(n)) {
      lines.push(edgeLine(d, n, frame, final));
      continue;
    }
    const text = n.lines.slice();
    const g = frame?.grads.get(n.obj);
    if (frame) {
      const shown = `grad ${g ?? "\u2014"}`; // an em dash: nothing has arrived yet
      if (n.gradLine !== null) text[n.gradLine] = shown;
      else text.push(shown);
    }
    const label = [n.shape === "ellipse" ? esc(n.title) : `<b>${esc(n.title)}</b>`, ...text.map(esc)].join("<br/>");
    let style = `style="rounded,filled", fillcolor="${n.fill}"`;
    if (frame?.active === n.obj) style = `style="rounded,filled,bold", fillcolor="${n.fill}", color="#d62728", penwidth=3`;
    else if (frame?.done.has(n.obj)) style = `style="rounded,filled", fillcolor="#c7e9c0", color="#31a354"`;
    const size = sizes?.get(d.id(n.obj));
    lines.push(`  ${d.id(n.obj)} [label=<${label}>, shape=${n.shape}, ${style}${size ? `, width=${size[0]}, height=${size[1]}` : ""}];`);
  }
  return `digraph G {\n  rankdir=${options.direction ?? "LR"};\n  node [fontname="Helvetica", fontsize=11];\n  edge [color="#555555"];\n${lines.join("\n")}\n}`;
}

function edgeLine(d: Drawing, e: DrawnEdge, frame?: FrameOverlay, final?: Map<string, string>): string {
  const key = `${d.id(e.from)}->${d.id(e.to)}`;
  const carried = frame?.carried.get(key);
  const later = final?.get(key);
  const text = carried ?? later;
  const label = text !== undefined ? `\u2190 ${text}` : e.label;
  const hot = frame?.hot.has(key);
  const colour = hot ? "#d62728" : carried === undefined && later !== undefined ? "transparent" : "#1f5fa8";
  const attrs = [
    label ? `label=<${esc(label)}>, fontsize=10, fontcolor="${colour}"${frame ? `, fontname="Helvetica"` : ""}` : "",
    hot ? `color="#d62728", penwidth=2.5` : carried !== undefined ? `color="#1f5fa8"` : "",
  ].filter(Boolean);
  return `  ${d.id(e.from)} -> ${d.id(e.to)}${attrs.length ? ` [${attrs.join(", ")}]` : ""};`;
}

/** The graph in Graphviz's DOT language. */
export function graphDot(root: object, options: GraphOptions = {}): string {
  return toDot(drawing(root, options), options);
}

