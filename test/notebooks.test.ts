import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { loadSanitizers, runNotebook } from "kernel-lib/runner";

// Every lesson executes top to bottom through the real tslab kernel, and the
// values the reference texts print show up in its outputs.
const dir = path.join(__dirname, "..", "notebooks");
const lessons = readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort();

// CI installs a software Vulkan driver, so there the GPU cells must take the GPU path.
const onGpuInCi = process.env.CI === "true";
const expected: Record<string, Array<string | RegExp>> = {
  "01-automatic-differentiation.ipynb": [
    "[ 6, 18 ]", // the hand-derived gradient, then the same from our Variable
    "computational graph with 8 nodes", // the MSE graph drawn before and after backward
    "4\n3\n", // the quick check
    /-3\.14\d*\n5\.25\d*\n/, // learned weights near -3 and 5
    "a.grad = 36   (should be 78)", // the recursive backward's wrong answer
    "a.grad = 78   (should be 78)",
    "b.grad = 52   (should be 52)",
    "quick check: 4 and 3",
    "kernel-lib Variable:   w0 = -3.142334, w1 = 5.251794",
    "log: log of a non-positive number: log(-1)",
    // Autograd with tensors
    "tensor([ 6., 18.])",
    "tensor(-3.1423, requiresGrad=true)\ntensor(5.2518, requiresGrad=true)",
    // the same regression on the GPU (or the CPU where there is no adapter)
    /deviceModel on (webgpu|cpu): w0 = -3\.1423, w1 = 5\.2518/,
  ],
  "05-webgpu.ipynb": ["[ [ 71, 101 ], [ 151, 221 ] ]", "544\n", "test accuracy: 99.0 %", "live GPU buffers: 0"],
  "02-automatic-differentiation-in-depth.ipynb": [
    "Symbolic derivative:  -1.88452087\nNumerical derivative: -1.88452087\nDifference: 3.43e-11", // sin(x²) at 1.5
    "Automatic, forward mode:  -1.88452087",
    "Automatic, reverse mode:  -1.88452087",
    "Numerical: 2,000,000 evaluations",
    "Speedup:   1,000,000x",
    "∂f/∂x1 = 21.000000 (should be 21)", // f = (x1 + x2)(x1 x2) at (2, 3)
    "∂f/∂x2 = 16.000000 (should be 16)",
    "f = 30, ∂f/∂x1 = 21, ∂f/∂x2 = 16",
    "computational graph with 5 nodes",
    "∂z/∂x = 7 (should be y + 2x = 7)", // z = xy + x² at (2, 3), our Value
    "∂z/∂y = 2 (should be x = 2)",
    "forward mode: z = 10, gradient [7, 2], 2 passes\nreverse mode: z = 10, gradient [7, 2], 1 pass",
    "lossLike: R^3 → R^1, at x = [1, 2, 3]\n  forward mode: 3 passes   reverse mode: 1 pass",
    "curve: R^1 → R^3, at x = [0.5]\n  forward mode: 1 pass   reverse mode: 3 passes",
    "z = 10\n∂z/∂x = 7 (should be 7)\n∂z/∂y = 2 (should be 2)", // the same with tensors
    "W1 gradient shape: [10, 5]\nW2 gradient shape: [5, 1]",
    "After first backward: grad = 4\nAfter second backward (accumulated!): grad = 8\nAfter zeroing and backward: grad = 4",
    "x.grad = 4 (only the direct path through x", // detach
    "add_: in-place changes to a tensor inside the graph are not supported; use the out-of-place op instead",
    "ExpBackward: a tensor of shape [1] that this gradient needs was modified by an in-place operation",
    "a.grad = 64 (should be 2·d·(b + 1) = 64)\nb.grad = 32 (should be 2·d·a = 32)",
    "✓ softmaxJacobian([1, 2, 3]) agrees with s_i(δ_ij - s_j) to within 1e-12",
    "accuracy: 100%",
  ],
  "03-backprop-from-scratch.ipynb": [
    "z = 0\ne = -2\nL = 4\n", // the forward pass by hand at w = 0
    "dz/dw = 1\nde/dz = 1\ndL/de = -4\n", // the local gradients
    "dL/dL = 1\ndL/de = -4\ndL/dz = -4\ndL/dw = -4\n", // the backward chain
    "w after one step = 0.4\n", // one gradient-descent step with alpha = 0.1
    "L = 4\nw.grad = dL/dw = -4\n", // the same from the Value engine
    "topological order: [w, x, z, y, -1, -y, e, L]",
    "dL/da = 7", // a node used twice: 2a + 3 at a = 2
    "Step 3 of 3: b passes its gradient 1 on, times each local derivative: 4 × 1 = 4 to a.", // the step-through drawing
    "with = instead of +=: dL/da = 4",
    "after 50 steps: w = 2.0000",
    "computational graph with 8 nodes",
    "Result: y = 2.00x + 0.00",
    "computational graph with 22 nodes",
  ],
  "06-beyond-one-gradient.ipynb": [
    "tensor([ 3., 12., 27.], dtype=float64)", // grad of sum(x^3)
    "null [ 6, 12, 18 ]", // grad of grad, the input untouched
    "column 0, jvp [ 0.7115777625872226, 0.25273386964447875 ]",
    "row 1, vjp    [ 0.25273386964447875, 0.6739569857186101, -0.8424462321482625 ]",
    /many inputs: jacfwd +[\d.]+ ms, jacrev +[\d.]+ ms +many outputs: jacfwd +[\d.]+ ms, jacrev +[\d.]+ ms\n/,
    "H at (-1.2, 1) from hessian(): [ [ 1330, 480 ], [ 480, 200 ] ]",
    "Newton after 8 steps:              (1.0000, 1.0000), f = 0.00e+0",
    "50890 parameters; a Hessian would have 2.6 billion entries",
    /u·\(Hv\) = (-?[\d.]+),  v·\(Hu\) = -?[\d.]+/,
    "gradcheck: Jacobian mismatch for output 0 element [0] with respect to input 0 element [0]: analytical 0.36787944117144233, numerical 0.26894142",
  ],
  "04-autograd-tensor-api.ipynb": [
    "tensor([0., 1., 2., 3.])",
    "null\n",
    "tensor(28., gradFn=<MulBackward>)",
    "tensor([ 0.,  4.,  8., 12.])",
    "tensor([true, true, true, true])",
    "tensor([1., 1., 1., 1.])",
    "grad can be implicitly created only for scalar outputs",
    "tensor([0., 2., 4., 6.])",
    "tensor(true)",
  ],
};

function outputText(nbPath: string): string {
  const nb = JSON.parse(readFileSync(nbPath, "utf8"));
  return nb.cells
    .flatMap((c: { outputs?: Array<{ text?: string }> }) => c.outputs ?? [])
    .map((o: { text?: string; data?: Record<string, string> }) => o.text ?? (o.data?.["text/plain"] ? `${o.data["text/plain"]}\n` : ""))
    .join("");
}

describe("lessons against their sources", () => {
  const markdown = (name: string) =>
    (JSON.parse(readFileSync(path.join(dir, name), "utf8")).cells as Array<{ cell_type: string; source: string | string[] }>)
      .filter((c) => c.cell_type === "markdown")
      .map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source))
      .join("\n");
  it("credit the work they follow: Barak's tutorial and micrograd (01), micrograd (03)", () => {
    expect(markdown("01-automatic-differentiation.ipynb")).toMatch(/Boaz Barak[\s\S]*Yet Another Backpropagation Tutorial[\s\S]*micrograd/);
    expect(markdown("03-backprop-from-scratch.ipynb")).toContain("micrograd");
  });
  it("say things in their own words, not in the sources' (passages once too close to them)", () => {
    const all = lessons.map(markdown).join("\n");
    for (const phrase of [
      "The computational graph of a function $f$ is a directed acyclic",
      "millions of inputs (the weights) and one",
      "computed in the forward pass;",
      "filled in by the\n   backward pass",
      "is a child of both",
    ]) expect(all).not.toContain(phrase);
  });
});

describe("lessons execute through the tslab kernel and print what they store", () => {
  const out = mkdtempSync(path.join(tmpdir(), "lessons-"));
  // the lessons are committed with their outputs (kernel-lib-run --inplace); what a run measures is sanitized
  const sanitizers = loadSanitizers(path.join(dir, "outputs.sanitize"));
  it("there are lessons", () => expect(lessons.length).toBeGreaterThan(0));
  for (const name of lessons) {
    it(name, async () => {
      const committed = readFileSync(path.join(dir, name), "utf8");
      // stored with outputs in most code cells, so the comparison below compares something; small enough for git
      const stored = (JSON.parse(committed).cells as Array<{ cell_type: string; outputs?: unknown[] }>).filter((c) => c.cell_type === "code");
      expect(stored.filter((c) => (c.outputs ?? []).length > 0).length, `${name} is committed without its outputs: npm run refresh-notebooks`).toBeGreaterThan(stored.length / 2);
      expect(committed.length, `${name} is over 1 MB`).toBeLessThan(1_000_000);
      expect(committed).not.toContain("kernel-lib-plotly-js"); // the 4.8 MB plotly.js copy stays out of git
      const lines: string[] = [];
      const r = await runNotebook(path.join(dir, name), { cellTimeoutMs: 120_000, writeDir: out, log: (l) => lines.push(l), checkOutputs: "all", sanitizers });
      expect(r.passed, lines.join("\n")).toBe(true);
      const text = outputText(r.written!);
      // With its solutions in, every check cell of a lesson says "✓".
      const cells = JSON.parse(readFileSync(r.written!, "utf8")).cells as Array<{ source: string | string[]; outputs?: Array<{ text?: string }> }>;
      for (const cell of cells) {
        const src = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
        if (!/\bcheck(That)?\(/.test(src)) continue;
        const said = (cell.outputs ?? []).map((o) => o.text ?? "").join("");
        expect(said, `a check cell of ${name} did not pass:\n${src}`).toMatch(/^✓ /m);
        expect(said).not.toContain("✗");
      }
      // an export (--write) keeps plotly.js, once, so that its HTML draws offline
      if (name.startsWith("01-")) expect(statSync(r.written!).size).toBeGreaterThan(4_500_000);
      if (name.startsWith("01-")) expect(statSync(r.written!).size).toBeLessThan(6_000_000);
      expect(expected[name], `list the values ${name} must print in test/notebooks.test.ts`).toBeDefined();
      const wants = [...expected[name]];
      if (onGpuInCi && name.startsWith("01-")) wants.push("deviceModel on webgpu");
      if (onGpuInCi && name.startsWith("05-")) wants.push('device = "webgpu"');
      for (const want of wants) {
        if (typeof want === "string") expect(text).toContain(want);
        else expect(text).toMatch(want);
      }
    }, 600_000);
  }
});
