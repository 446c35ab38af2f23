/**
 * The backward pass, one node at a time: `drawGraph(y, { steps: true })`.
 * The sweep is replayed from the graph (the local derivatives a scalar node
 * stored at forward time; a tensor op's recorded backward), so each frame
 * shows which node is passing its gradient on, what each edge carries, and
 * the running sums where a node is used more than once. Frames are drawn by
 * Graphviz; a script in the output steps through them, and where scripts do
 * not run (an untrusted notebook, a GitHub preview) a strip of all the
 * frames, as a picture, shows instead.
 */
import { noGrad, sweepOrder } from "../tensor/autograd";
import { Tensor, type Device } from "../tensor/tensor";
import { capability, full } from "../tensor/engine";
import { drawing, toDot, type Drawing, type FrameOverlay, type GraphOptions } from "./dot";
import { esc } from "./svg";
import { elementId } from "../display";

type T = Tensor<Device>;

/** One frame: the overlay and its caption. */
export interface Step extends FrameOverlay {
  caption: string;
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString());

/** What a scalar node exposes for the replay. */
interface ScalarLike {
  data: number;
  op?: string;
  label?: string;
  inputs?: ScalarLike[];
  children?: ScalarLike[];
  localGrads?: number[];
  _a?: ScalarLike | null;
  _da?: number;
  _b?: ScalarLike | null;
  _db?: number;
}

/** A scalar node's inputs with d(node)/d(input), one entry per use. */
function locals(v: ScalarLike): Array<[ScalarLike, number]> {
  if ("_a" in v && "_da" in v) {
    // kernel-lib's Variable
    const out: Array<[ScalarLike, number]> = [];
    if (v._a) out.push([v._a, v._da!]);
    if (v._b) out.push([v._b, v._db!]);
    return out;
  }
  const children = v.inputs ?? v.children ?? [];
  if (children.length === 0) return [];
  if (!Array.isArray(v.localGrads) || v.localGrads.length !== children.length) {
    throw new TypeError(
      "drawGraph steps: replaying the backward pass needs each node's local derivatives: give your node class a `localGrads` array (one number per child, set in the forward pass)",
    );
  }
  return children.map((c, i) => [c, v.localGrads![i]]);
}

/** A running sum as text: "7", or "3 + 4 = 7" once a node has received from two places. */
class Sums {
  private parts = new Map<object, number[]>();
  add(o: object, v: number): void {
    const p = this.parts.get(o) ?? [];
    p.push(v);
    this.parts.set(o, p);
  }
  total(o: object): number {
    return (this.parts.get(o) ?? []).reduce((a, b) => a + b, 0);
  }
  text(): Map<object, string> {
    const out = new Map<object, string>();
    for (const [o, p] of this.parts) out.set(o, p.length === 1 ? num(p[0]) : `${p.map(num).join(" + ")} = ${num(p.reduce((a, b) => a + b, 0))}`);
    return out;
  }
}

function scalarSteps(root: ScalarLike, d: Drawing, nameOf: (o: object) => string): Step[] {
  // consumers per node, then Kahn's order as Variable.backward() runs it
  const pending = new Map<ScalarLike, number>();
  const seen = new Set<ScalarLike>([root]);
  const stack = [root];
  while (stack.length > 0) {
    const v = stack.pop()!;
    for (const [c] of locals(v)) {
      pending.set(c, (pending.get(c) ?? 0) + 1);
      if (!seen.has(c)) {
        seen.add(c);
        stack.push(c);
      }
    }
  }
  const sums = new Sums();
  sums.add(root, 1);
  const carried = new Map<string, string>();
  const done = new Set<object>();
  const steps: Step[] = [
    { caption: `The seed: ∂${nameOf(root)}/∂${nameOf(root)} = 1.`, active: root, done: new Set(), grads: sums.text(), carried: new Map(), hot: new Set() },
  ];
  const ready = [root];
  const total = [...seen].filter((v) => locals(v).length > 0).length;
  while (ready.length > 0) {
    const v = ready.pop()!;
    const ins = locals(v);
    if (ins.length > 0) {
      const g = sums.total(v);
      const hot = new Set<string>();
      const sent: string[] = [];
      const byEdge = new Map<string, string[]>();
      for (const [c, local] of ins) {
        sums.add(c, local * g);
        const key = `${d.id(c)}->${d.id(v)}`;
        hot.add(key);
        byEdge.set(key, [...(byEdge.get(key) ?? []), `${num(local)} × ${num(g)} = ${num(local * g)}`]);
        sent.push(`${num(local)} × ${num(g)} = ${num(local * g)} to ${nameOf(c)}`);
      }
      for (const [key, parts] of byEdge) carried.set(key, parts.join(", "));
      done.add(v);
      steps.push({
        caption: `Step ${steps.length} of ${total}: ${nameOf(v)} passes its gradient ${num(g)} on, times each local derivative: ${sent.join("; ")}.`,
        active: v,
        done: new Set(done),
        grads: sums.text(),
        carried: new Map(carried),
        hot,
      });
    }
    for (const [c] of ins) {
      const left = pending.get(c)! - 1;
      pending.set(c, left);
      if (left === 0) ready.push(c);
    }
  }
  return steps;
}

/** A tensor gradient as text: its values when there are few, else its shape and mean. */
function describe(t: T): string {
  const v = Array.from(t.data() as ArrayLike<number>);
  if (t.size <= 4) return t.ndim === 0 ? num(v[0]) : `[${v.map(num).join(", ")}]`;
  return `shape [${t.shape.join(", ")}], mean ${num(v.reduce((a, b) => a + b, 0) / v.length)}`;
}

function tensorSteps(root: T, d: Drawing, nameOf: (o: object) => string): Step[] {
  if (!capability(root.device, "syncRead")) throw new Error(`drawGraph steps: reading gradients from ${root.device} is asynchronous; draw the steps of a CPU graph`);
  if (root.gradFn === null) throw new Error("drawGraph steps: this tensor has no gradFn (did you set requiresGrad on the inputs?)");
  // the order backward() runs the nodes in
  const order = sweepOrder(root.gradFn);
  const total = order.length;
  const grads = new Map<object, T>();
  const text = new Map<object, string>();
  const seed = full(root.shape, 1, root.dtype, root.device);
  grads.set(root.gradFn, seed);
  text.set(root, describe(seed));
  const carried = new Map<string, string>([[`${d.id(root.gradFn)}->${d.id(root)}`, describe(seed)]]);
  const done = new Set<object>();
  const steps: Step[] = [
    { caption: `The seed: the gradient of ${nameOf(root)} with respect to itself, ${describe(seed)}.`, active: root, done: new Set(), grads: new Map(text), carried: new Map(carried), hot: new Set() },
  ];
  noGrad(() => {
    for (const node of order) {
      const g = grads.get(node);
      const hot = new Set<string>();
      const sent: string[] = [];
      if (g !== undefined) {
        text.set(node, describe(g));
        const inputGrads = node.backward(g);
        node.inputs.forEach((t, i) => {
          const gi = inputGrads[i];
          if (!t.requiresGrad || !gi) return;
          const target: object = t.gradFn ?? t;
          const key = `${d.id(target)}->${d.id(node)}`;
          hot.add(key);
          carried.set(key, describe(gi));
          sent.push(`${describe(gi)} to ${t.gradFn ? t.gradFn.name : nameOf(t)}`);
          const prev = grads.get(target);
          const sum = prev === undefined ? gi : prev.add(gi);
          grads.set(target, sum);
          text.set(target, prev === undefined ? describe(gi) : `${text.get(target)} + ${describe(gi)} = ${describe(sum)}`);
        });
      }
      done.add(node);
      steps.push({
        caption: `Step ${steps.length} of ${total}: ${node.name} turns its output's gradient into its inputs': ${sent.length ? sent.join("; ") : "nothing to pass on"}.`,
        active: node,
        done: new Set(done),
        grads: new Map(text),
        carried: new Map(carried),
        hot,
      });
    }
  });
  return steps;
}

/** The replayed backward pass of the graph behind `root`: one frame per node that passes a gradient on, after the seed. */
export function backwardSteps(root: object, options: GraphOptions = {}): { drawing: Drawing; steps: Step[] } {
  const d = drawing(root, options);
  const titles = new Map<object, string>();
  for (const it of d.items) if ("obj" in it) titles.set(it.obj, it.title);
  const nameOf = (o: object) => {
    const title = options.names?.get(o) || (o as { label?: string }).label || titles.get(o) || "node";
    const data = (o as { data?: unknown }).data;
    return title === "constant" && typeof data === "number" ? `the constant ${num(data)}` : title;
  };
  const steps = root instanceof Tensor ? tensorSteps(root as T, d, nameOf) : scalarSteps(root as ScalarLike, d, nameOf);
  return { drawing: d, steps };
}

/**
 * Each frame as DOT, all with one layout: `measure` gives the node sizes
 * (inches, by id) Graphviz lays a frame out with; every node then gets its
 * largest size over the frames.
 */
export function stepDots(d: Drawing, steps: Step[], options: GraphOptions, measure: (dot: string) => Map<string, [number, number]>): string[] {
  const sizes = new Map<string, [number, number]>();
  const final = steps[steps.length - 1].carried;
  for (const s of steps) {
    for (const [id, [w, h]] of measure(toDot(d, options, s, undefined, final))) {
      const [w0, h0] = sizes.get(id) ?? [0, 0];
      sizes.set(id, [Math.max(w, w0), Math.max(h, h0)]);
    }
  }
  return steps.map((s) => toDot(d, options, s, sizes, final));
}

/** The frames stacked in one SVG picture, each under its caption: the static strip. */
export function stripSVG(frames: string[], captions: string[]): string {
  const parsed = frames.map((svg) => {
    const vb = /viewBox="([\d.\-]+) ([\d.\-]+) ([\d.]+) ([\d.]+)"/.exec(svg);
    const [w, h] = vb ? [Number(vb[3]), Number(vb[4])] : [400, 200];
    const inner = svg.replace(/^[\s\S]*?<svg[^>]*>/, "").replace(/<\/svg>\s*$/, "");
    return { w, h, inner, vb: vb ? `${vb[1]} ${vb[2]} ${vb[3]} ${vb[4]}` : `0 0 ${w} ${h}` };
  });
  const width = Math.max(480, ...parsed.map((p) => p.w)) + 16;
  const wrap = (text: string) => {
    // captions wrapped to the picture's width (about 6.2 units per character at 12 units)
    const perLine = Math.max(40, Math.floor((width - 16) / 6.2));
    const words = text.split(" ");
    const out: string[] = [];
    let line = "";
    for (const w of words) {
      if ((line + " " + w).trim().length > perLine) {
        out.push(line.trim());
        line = w;
      } else line += " " + w;
    }
    if (line.trim()) out.push(line.trim());
    return out;
  };
  let y = 8;
  const parts: string[] = [];
  parsed.forEach((p, i) => {
    const lines = wrap(captions[i]);
    lines.forEach((l, j) => parts.push(`<text x="8" y="${y + 14 + 15 * j}" font-family="Helvetica, Liberation Sans, sans-serif" font-size="12" fill="#333">${esc(l)}</text>`));
    y += 15 * lines.length + 8;
    parts.push(`<svg x="8" y="${y}" width="${p.w}" height="${p.h}" viewBox="${p.vb}">${p.inner}</svg>`);
    y += p.h + 12;
    if (i < parsed.length - 1) parts.push(`<line x1="8" x2="${width - 8}" y1="${y - 6}" y2="${y - 6}" stroke="#ccc"/>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}"><rect width="100%" height="100%" fill="#fff"/>${parts.join("")}</svg>`;
}

/**
 * The player: the strip's PNG in place (what stays where scripts do not run),
 * replaced by a script with the frames and buttons to step through them.
 */
export function playerHTML(frames: string[], captions: string[], stripPng: string | null): string {
  const id = elementId("steps");
  const data = JSON.stringify(frames.map((svg, i) => ({ svg, caption: captions[i] }))).replace(/</g, "\\u003c");
  const fallback = stripPng
    ? `<img class="kernel-lib-static" alt="the backward pass, step by step" src="data:image/png;base64,${stripPng}"/>`
    : frames.map((f, i) => `<p>${esc(captions[i])}</p>${f}`).join("");
  return `<div class="kernel-lib-steps" id="${id}">${fallback}</div>
<script type="text/plain" id="${id}-frames">${data}</script>
<script type="text/javascript">(function () {
  var el = document.getElementById("${id}"), src = document.getElementById("${id}-frames");
  if (!el || !src) return;
  var frames = JSON.parse(src.textContent), i = 0, timer = null;
  src.remove();
  el.innerHTML = '<div class="kl-bar" style="display:flex;gap:6px;align-items:center;font:13px sans-serif;margin-bottom:4px">' +
    '<button data-go="first" title="first step">|&#x25C0;</button><button data-go="prev" title="previous step">&#x25C0;</button>' +
    '<button data-go="play" title="play the steps">play</button><button data-go="next" title="next step">&#x25B6;</button>' +
    '<button data-go="last" title="last step">&#x25B6;|</button><input type="range" min="0" max="' + (frames.length - 1) + '" value="0" style="flex:1"/>' +
    '<span class="kl-count"></span></div><div class="kl-caption" style="font:13px sans-serif;min-height:2.6em;margin:4px 0"></div><div class="kl-frame" style="overflow-x:auto"></div>';
  var range = el.querySelector("input"), count = el.querySelector(".kl-count"), caption = el.querySelector(".kl-caption"), frame = el.querySelector(".kl-frame");
  function show(k) {
    i = Math.max(0, Math.min(frames.length - 1, k));
    frame.innerHTML = frames[i].svg;
    caption.textContent = frames[i].caption;
    count.textContent = (i + 1) + " / " + frames.length;
    range.value = String(i);
  }
  function stop() { if (timer) { clearInterval(timer); timer = null; } }
  el.addEventListener("click", function (e) {
    var go = e.target && e.target.getAttribute && e.target.getAttribute("data-go");
    if (!go) return;
    if (go === "play") {
      if (timer) return stop();
      if (i === frames.length - 1) show(0);
      timer = setInterval(function () { if (i >= frames.length - 1) stop(); else show(i + 1); }, 1200);
      return;
    }
    stop();
    show(go === "first" ? 0 : go === "last" ? frames.length - 1 : go === "prev" ? i - 1 : i + 1);
  });
  range.addEventListener("input", function () { stop(); show(Number(range.value)); });
  show(0);
})();</script>`;
}
