import { describe, expect, it } from "vitest";
import { Variable, sub, arange, graphDot, graphSVG } from "kernel-lib";

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
