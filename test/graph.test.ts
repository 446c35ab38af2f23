import { describe, expect, it } from "vitest";
import { Variable, sub, arange, tensor, graphDot, graphSVG, graphSteps, drawGraph } from "kernel-lib";

describe("computational-graph drawings", () => {
  it("draw the lecture's MSE graph with values, gradients and roles", async () => {
    const w0 = new Variable(1, "w0");
    const w1 = new Variable(2, "w1");
    const x = new Variable(3, "x");
    const y = new Variable(4, "y");
    const h4 = sub(y, w1.mul(x).add(w0)).pow(2);
    h4.backward();
    const dot = graphDot(h4, { parameters: [w0, w1] });
    expect(dot).toContain("<b>w1</b><br/>data 2<br/>grad 18");
    expect(dot).toContain("<b>w0</b><br/>data 1<br/>grad 6");
    expect(dot).toContain("<b>x</b><br/>data 3<br/>grad");
    expect(dot.match(/fillcolor="#9ecae1"/g)).toHaveLength(2); // parameters
    expect(dot.match(/fillcolor="#e0e0e0"/g)).toHaveLength(2); // data x, y
    expect(dot.match(/fillcolor="#fdae6b"/g)).toHaveLength(1); // output
    expect(dot.match(/ -> /g)).toHaveLength(7);
    const svg = await graphSVG(h4, { parameters: [w0, w1] });
    expect(svg).toMatch(/^(<!--[^]*?-->\s*)*<svg/); // a fragment: no XML declaration (nbconvert rejects it)
    expect(svg.match(/class="node"/g)).toHaveLength(8);
    expect(svg.match(/class="edge"/g)).toHaveLength(7);
  });

  it("draw a tensor's graph from its gradFn chain", async () => {
    const x = arange(4).requiresGrad_();
    const y = x.dot(x).mul(2);
    const svg = await graphSVG(y, { names: new Map([[x, "x"]]) });
    for (const name of ["MulBackward", "SumBackward", "x", "output"]) expect(svg).toContain(name);
    expect(svg.match(/class="node"/g)).toHaveLength(5);
  });

  it("draw a lesson's own engine, with the local gradients it stored on the edges", () => {
    // The shape of lesson 03's Value: children and local gradients, no op names.
    class Value {
      grad = 0;
      constructor(public data: number, public children: Value[] = [], public localGrads: number[] = [], public label = "") {}
    }
    const w = new Value(0, [], [], "w");
    const z = new Value(0, [w], [1], "z");
    const e = new Value(-2, [z, new Value(-2, [], [], "-y")], [1, 1], "e");
    const sq = new Value(-2, [e, e], [-2, -2], "e*e"); // a node used twice
    const dot = graphDot(sq, { parameters: [w] });
    expect(dot).toContain("<b>w</b><br/>data 0<br/>grad 0");
    expect(dot).toMatch(/ -> n\d+ \[label=<local -2, -2>/); // both uses of e, one edge
    expect(dot.match(/label=<local 1>/g)).toHaveLength(3);
    expect(dot.match(/ -> /g)).toHaveLength(4);
  });

  it("title unnamed leaves by their role", () => {
    const w = new Variable(3);
    const out = w.mul(new Variable(2));
    const dot = graphDot(out, { parameters: [w] });
    expect(dot).toContain("<b>parameter</b><br/>data 3<br/>grad");
    expect(dot).toContain("<b>constant</b><br/>data 2<br/>grad");
  });

  it("rejects other values", () => {
    expect(() => graphDot({})).toThrow("drawGraph: expected a Variable, a Tensor, or a node with numeric `data`");
  });
});

describe("the backward pass, step by step (drawGraph with steps)", () => {
  /** Where each node sits in a frame (Graphviz's drawn shapes, by node id). */
  const layout = (svg: string) => [...svg.matchAll(/<title>(n\d+)<\/title>\s*<(?:path|polygon|ellipse)[^>]*?(?:\sd|points|cx)="([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`);

  it("replays a node used twice: what each edge carries and the running sum", async () => {
    const x = new Variable(2, "x");
    const y = new Variable(3, "y");
    const a = x.mul(y);
    a.label = "a";
    const b = x.pow(2);
    b.label = "b";
    const z = a.add(b);
    z.label = "z";
    const { svgs, captions } = await graphSteps(z, { parameters: [x, y] });
    expect(captions).toEqual([
      "The seed: ∂z/∂z = 1.",
      "Step 1 of 3: z passes its gradient 1 on, times each local derivative: 1 × 1 = 1 to a; 1 × 1 = 1 to b.",
      "Step 2 of 3: b passes its gradient 1 on, times each local derivative: 4 × 1 = 4 to x.",
      "Step 3 of 3: a passes its gradient 1 on, times each local derivative: 3 × 1 = 3 to x; 2 × 1 = 2 to y.",
    ]);
    expect(svgs).toHaveLength(4);
    expect(svgs[0]).toContain("grad —"); // nothing has arrived at x yet
    expect(svgs[2]).toContain("grad 4<");
    expect(svgs[3]).toContain("grad 4 + 3 = 7");
    z.backward();
    expect(x.grad).toBe(7); // the replay's sum is backward's
    // one layout for all the frames: every node stays where it is
    expect(layout(svgs[0]).length).toBe(5);
    for (const svg of svgs) expect(layout(svg)).toEqual(layout(svgs[0]));
    // the active node is framed in red, the nodes done are green
    expect(svgs[2]).toMatch(/<title>n\d+<\/title>\s*<path fill="#ffffff" stroke="#d62728" stroke-width="3"/);
    expect(svgs[3].match(/fill="#c7e9c0"/g)).toHaveLength(2); // z and b (a is the active one)
  });

  it("replays a tensor graph with each op's recorded backward; its gradients are backward's", async () => {
    const t = tensor([1, 2, 3]).requiresGrad_();
    const h = t.mul(2);
    const out = h.add(1).mul(h).sum();
    const { captions } = await graphSteps(out, { names: new Map([[t, "t"]]) });
    expect(captions).toHaveLength(5);
    expect(captions[4]).toBe("Step 4 of 4: MulBackward turns its output's gradient into its inputs': [10, 18, 26] to t.");
    expect(t.grad).toBeNull(); // the replay leaves the leaves' gradients alone
    out.backward();
    expect(t.grad!.toArray()).toEqual([10, 18, 26]);
  });

  it("a lesson's own engine needs its local gradients for the replay", async () => {
    const node = { data: 1, grad: 0, children: [{ data: 2, grad: 0, children: [] }] };
    await expect(graphSteps(node)).rejects.toThrow("drawGraph steps: replaying the backward pass needs each node's local derivatives");
  });

  it("outside a notebook, prints the steps as text", async () => {
    const w = new Variable(3, "w");
    const out = w.mul(w);
    out.label = "out";
    const logged: string[] = [];
    const log = console.log;
    console.log = (s: string) => logged.push(s);
    try {
      await drawGraph(out, { steps: true });
    } finally {
      console.log = log;
    }
    expect(logged.join("\n")).toBe(
      "the backward pass in 1 step:\nThe seed: ∂out/∂out = 1.\nStep 1 of 1: out passes its gradient 1 on, times each local derivative: 3 × 1 = 3 to w; 3 × 1 = 3 to w.",
    );
  });
});
