/**
 * The function transforms (grad, vjp, jvp, jacrev, jacfwd, hessian, hvp),
 * backward({ createGraph }), gradcheck and custom ops. The programs in
 * PROGRAMS are the TypeScript twins of those in
 * test/fixtures/torch/generate_second_order.py, whose Hessians, Hessian-vector
 * products, Jacobians and JVPs (PyTorch, float64) are in second-order.json.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  Tensor,
  tensor,
  where,
  cat,
  stack,
  maximum,
  crossEntropy,
  noGrad,
  grad,
  gradAndValue,
  vjp,
  jvp,
  jacrev,
  jacfwd,
  hessian,
  hvp,
  gradcheck,
  gradgradcheck,
  customOp,
  type NestedArray,
} from "kernel-lib";

const f64 = (v: NestedArray) => tensor(v, { dtype: "float64" });

function expectClose(actual: Tensor, expected: Tensor | { shape: number[]; value: NestedArray } | NestedArray, rel = 1e-9, abs = 1e-12): void {
  let want: Tensor;
  if (expected instanceof Tensor) want = expected.double();
  else if (typeof expected === "object" && expected !== null && "shape" in expected) {
    expect(actual.shape).toEqual(expected.shape);
    want = f64(expected.value);
  } else want = f64(expected);
  expect(actual.size).toBe(want.size);
  const a = Array.from(actual.double().data());
  const b = Array.from(want.data());
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => {
    if (!(Math.abs(x - b[i]) <= abs + rel * Math.abs(b[i]))) throw new Error(`element ${i}: ${x} vs ${b[i]}`);
  });
}

// ---------------------------------------------------------------- against PyTorch

interface Recorded {
  shape: number[];
  value: NestedArray;
  dtype?: "float64" | "int32";
}
interface Program {
  name: string;
  x: Recorded;
  v: Recorded;
  consts: Record<string, Recorded>;
  f: number;
  hessian: Recorded;
  hvp: Recorded;
  g: Recorded;
  jvp: Recorded;
  jacobian: Recorded;
}
const reference: { torch: string; cases: Program[] } = JSON.parse(
  readFileSync(path.join(__dirname, "fixtures", "torch", "second-order.json"), "utf8"),
);

type C = Record<string, Tensor>;
const softplus = (z: Tensor) => z.exp().log1p();
const PROGRAMS: Record<string, { f: (x: Tensor, c: C) => Tensor; g: (x: Tensor, c: C) => Tensor }> = {
  logistic: {
    f: (x, c) => softplus(c.y.neg().mul(c.X.matmul(x))).mean(),
    g: (x, c) => c.X.matmul(x).sigmoid(),
  },
  mlp: {
    f: (x, c) => c.A.matmul(x).add(c.b).tanh().mul(c.w).sum().add(x.pow(3).sum().div(3)),
    g: (x, c) => c.A.matmul(x).add(c.b).tanh().mul(c.w),
  },
  softmax: {
    f: (x, c) => crossEntropy(x, c.t).add(x.softmax(1).mul(x).sum()),
    g: (x) => x.mul(x).logSoftmax(0),
  },
  matrix: {
    f: (x) => x.matmul(x.T).sigmoid().sum().add(x.norm().mul(x.mean())).add(x.max(1).pow(2).sum()),
    g: (x) => cat([x.matmul(x).reshape(-1), x.sum(0).mul(x.max(0))]),
  },
  elementwise: {
    f: (x, c) =>
      x
        .mul(x)
        .add(1)
        .sqrt()
        .div(x.exp().add(1))
        .sum()
        .add(c.k.mul(x.mul(x).log1p().pow(2)).sum())
        .add(where(x.gt(0), x.mul(x), x.neg()).sum())
        .add(x.index(1).mul(x.index(2))),
    g: (x) => stack([x.index(0).mul(x.index(1)), maximum(x.index(2), x.index(3)), x.div(x.abs().add(1)).sum()]),
  },
};

describe(`second derivatives of small programs against PyTorch ${reference.torch}`, () => {
  for (const p of reference.cases) {
    describe(p.name, () => {
      const program = PROGRAMS[p.name];
      const x = f64(p.x.value);
      const v = f64(p.v.value);
      const c: C = Object.fromEntries(Object.entries(p.consts).map(([k, r]) => [k, tensor(r.value, { dtype: r.dtype ?? "float64" })]));
      const f = (xi: Tensor) => program.f(xi, c);
      const g = (xi: Tensor) => program.g(xi, c);
      it("hessian (forward over reverse)", () => expectClose(hessian(f)(x), p.hessian));
      it("jacfwd(jacrev), jacrev(jacrev) and jacfwd(jacfwd) all equal the Hessian", () => {
        expectClose(jacfwd(jacrev(f))(x), p.hessian);
        expectClose(jacrev(jacrev(f))(x), p.hessian);
        expectClose(jacfwd(jacfwd(f))(x), p.hessian);
        expectClose(jacrev(jacfwd(f))(x), p.hessian);
      });
      it("hvp", () => {
        const [value, hv] = hvp(f, x, v);
        expect(value.item()).toBeCloseTo(p.f, 10);
        expectClose(hv, p.hvp);
      });
      it("grad of grad: backward({ createGraph }) twice gives the same Hessian-vector product", () => {
        const xr = x.clone().requiresGrad_();
        f(xr).backward({ createGraph: true });
        const gx = xr.grad!;
        expect(gx.requiresGrad).toBe(true);
        xr.grad = null;
        gx.mul(v).sum().backward();
        expectClose(xr.grad!, p.hvp);
      });
      it("jvp (forward mode) and the Jacobians of a tensor function", () => {
        const [out, tangent] = jvp(g, [x], [v]);
        expectClose(out, p.g);
        expectClose(tangent, p.jvp);
        expectClose(jacrev(g)(x), p.jacobian);
        expectClose(jacfwd(g)(x), p.jacobian);
      });
    });
  }
  it("every program has its TypeScript twin and the other way round", () => {
    expect(Object.keys(PROGRAMS).sort()).toEqual(reference.cases.map((p) => p.name).sort());
  });
});

// ---------------------------------------------------------------- the transforms

describe("transforms", () => {
  const x = f64([0.5, -1, 2]);
  const cube = (t: Tensor) => t.pow(3).sum();

  it("grad, with argnums and hasAux; gradAndValue", () => {
    expectClose(grad(cube)(x), [0.75, 3, 12]);
    const h = (a: Tensor, b: Tensor) => a.mul(b).sum();
    const [ga, gb] = grad(h, { argnums: [0, 1] })(x, f64([1, 2, 3]));
    expectClose(ga, [1, 2, 3]);
    expectClose(gb, [0.5, -1, 2]);
    expectClose(grad(h, { argnums: 1 })(x, f64([1, 2, 3])), [0.5, -1, 2]);
    const [g, aux] = grad((t: Tensor) => [t.pow(2).sum(), "note"] as [Tensor, string], { hasAux: true })(x);
    expectClose(g, [1, -2, 4]);
    expect(aux).toBe("note");
    const [g2, value] = gradAndValue(cube)(x);
    expectClose(g2, [0.75, 3, 12]);
    expect(value.item()).toBeCloseTo(0.125 - 1 + 8, 12);
  });

  it("an input the output does not depend on gets zeros", () => {
    const [, gb] = grad((a: Tensor) => a.sum(), { argnums: [0, 1] })(x, f64([1, 2]));
    expectClose(gb, [0, 0]);
  });

  it("transforms work inside noGrad and leave the inputs alone", () => {
    const y = x.clone().requiresGrad_();
    const g = noGrad(() => grad(cube)(y));
    expectClose(g, [0.75, 3, 12]);
    expect(y.grad).toBeNull();
  });

  it("vjp with one and with several outputs; vjpFn can be called again", () => {
    const [out, back] = vjp((t: Tensor) => t.mul(t), x);
    expectClose(out, [0.25, 1, 4]);
    expectClose(back(f64([1, 1, 1]))[0], [1, -2, 4]);
    expectClose(back(f64([1, 0, 0]))[0], [1, 0, 0]);
    const [, back2] = vjp((t: Tensor) => [t.sum(), t.mul(2)], x);
    expectClose(back2([f64(1), f64([1, 2, 3])])[0], [3, 5, 7]);
  });

  it("jvp costs no backward pass: it runs with nothing recorded", () => {
    const [out, t] = jvp((a: Tensor) => {
      const y = a.exp().mul(a);
      expect(y.gradFn).toBeNull();
      return y;
    }, [x], [f64([1, 1, 1])]);
    expectClose(t, x.exp().mul(x.add(1)));
    expect(out.requiresGrad).toBe(false);
  });

  it("jvp of jvp: the mixed second derivative", () => {
    // d/dy d/dx of x^2 y^3 at (2, 1) = 6 x y^2 = 12
    const f = (a: Tensor, b: Tensor) => a.pow(2).mul(b.pow(3));
    const inner = (b: Tensor) => jvp((a: Tensor) => f(a, b), [f64(2)], [f64(1)])[1];
    expect(jvp(inner, [f64(1)], [f64(1)])[1].item()).toBeCloseTo(12, 12);
  });

  it("grad of grad of grad", () => {
    const d3 = grad((t: Tensor) => grad((u: Tensor) => grad((w: Tensor) => w.pow(4).sum())(u).sum())(t).sum());
    expectClose(d3(x), x.mul(24)); // d^3/dx^3 x^4 = 24 x
  });

  it("a tangent left on a tensor by a finished jvp is not read by a later one", () => {
    let inside: Tensor | null = null;
    jvp((a: Tensor) => (inside = a.mul(2)), [x], [f64([1, 1, 1])]);
    const [, t] = jvp((a: Tensor) => a.add(inside!), [x], [f64([1, 0, 0])]);
    expectClose(t, [1, 0, 0]);
  });

  it("Jacobian shapes: [...output, ...input]", () => {
    const m = f64([[1, 2], [3, 4], [5, 6]]);
    const f = (a: Tensor) => a.matmul(f64([1, -1])).tanh();
    expect(jacrev(f)(m).shape).toEqual([3, 3, 2]);
    expectClose(jacfwd(f)(m), jacrev(f)(m));
    expect(hessian((a: Tensor) => a.pow(2).sum())(m).shape).toEqual([3, 2, 3, 2]);
  });

  it("misuse is a clear error naming the transform and the shapes", () => {
    expect(() => grad((t: Tensor) => t.mul(2))(x)).toThrow("grad: the function must return a single value (a tensor with one element), got shape [3]");
    expect(() => grad(cube)(tensor([1, 2], { dtype: "int32" }))).toThrow("grad: argument 0 is an int32 tensor of shape [2]");
    expect(() => grad(cube, { argnums: 2 })(x)).toThrow("grad: argnums 2 is out of range for a call with 1 argument");
    expect(() => jvp(cube, [x], [f64([1, 2])])).toThrow("jvp: tangent 0 has shape [2] but primal 0 has shape [3]");
    expect(() => jvp(cube, [x], [])).toThrow("jvp: 1 primals but 0 tangents");
    expect(() => vjp((t: Tensor) => t.mul(2), x)[1](f64([1]))).toThrow("vjp: cotangent 0 has shape [1] but the output has shape [3]");
    expect(() => hessian((t: Tensor) => t.mul(2))(x)).toThrow("hessian: the function must return a single value");
    expect(() => hvp(cube, x, f64([1]))).toThrow("hvp: v must be a tensor of x's shape [3], got [1]");
    expect(() => grad(() => 3 as unknown as Tensor)(x)).toThrow("grad: the function must return a Tensor, got number");
    expect(() => jvp((t: Tensor) => t.add_(1), [x], [x])).toThrow("add_: a tensor that carries a forward-mode tangent");
  });

  it("backward() takes its options alone or after a gradient; unknown options are refused", () => {
    const y = f64([1, 2]).requiresGrad_();
    y.pow(2).backward(f64([1, 1]), { createGraph: true });
    expect(y.grad!.requiresGrad).toBe(true);
    expect(() => y.pow(2).sum().backward({ retainGraph: true } as never)).toThrow("backward: unknown option retainGraph");
  });
});

// ---------------------------------------------------------------- gradcheck and custom ops

describe("gradcheck and custom ops", () => {
  const x = f64([0.5, -1, 2]).requiresGrad_();
  const exp = (wrong: boolean) =>
    customOp({
      name: wrong ? "WrongExp" : "MyExp",
      forward(ctx, t: Tensor) {
        const y = t.exp();
        ctx.saveForBackward(y);
        return y;
      },
      backward(ctx, g) {
        const [y] = ctx.saved;
        return wrong ? g.mul(y).mul(x.detach()) : g.mul(y);
      },
      jvp(ctx, t) {
        return t.mul(ctx.saved[0]);
      },
    });

  it("passes on built-in ops and on a correct custom op, first and second order", () => {
    expect(gradcheck((t: Tensor) => t.tanh().mul(t.sigmoid()).softmax(0), [x])).toBe(true);
    expect(gradgradcheck((t: Tensor) => t.tanh().mul(t.sigmoid()).softmax(0), [x])).toBe(true);
    expect(gradcheck((a: Tensor, b: Tensor) => a.matmul(b), [f64([[1, 2], [3, 4]]).requiresGrad_(), f64([[0.5], [-1]]).requiresGrad_()])).toBe(true);
    const myExp = exp(false);
    expect(gradcheck(myExp, [x], { checkForwardAD: true })).toBe(true);
    expect(gradgradcheck(myExp, [x])).toBe(true);
    expectClose(hessian((t: Tensor) => myExp(t).sum())(x), [[Math.exp(0.5), 0, 0], [0, Math.exp(-1), 0], [0, 0, Math.exp(2)]], 1e-12);
  });

  it("fails on a wrong custom op, naming the output, the input, the elements and both values", () => {
    const wrong = exp(true);
    expect(() => gradcheck(wrong, [x])).toThrow(
      /^gradcheck: Jacobian mismatch for output 0 element \[0\] with respect to input 0 element \[0\]: analytical 0\.824\d+, numerical 1\.648\d+/,
    );
    expect(gradcheck(wrong, [x], { raiseException: false })).toBe(false);
  });

  it("catches a wrong second derivative that first order misses", () => {
    // right gradient, but written with a detached value: its own derivative is lost
    const cube = customOp({
      name: "Cube",
      forward: (ctx, t: Tensor) => {
        ctx.saveForBackward(t);
        return t.pow(3);
      },
      backward: (ctx, g) => g.mul(ctx.saved[0].detach().pow(2).mul(3)),
    });
    expect(gradcheck(cube, [x])).toBe(true);
    expect(() => gradgradcheck(cube, [x])).toThrow(/^gradgradcheck: Jacobian mismatch/);
  });

  it("a custom op without a tangent rule says so in forward mode", () => {
    const noJvp = customOp({ name: "NoJvp", forward: (_ctx, t: Tensor) => t.mul(2), backward: (_ctx, g) => g.mul(2) });
    expect(grad((t: Tensor) => noJvp(t).sum())(x.detach()).toArray()).toEqual([2, 2, 2]);
    expect(() => jvp(noJvp, [x], [x])).toThrow("jvp: NoJvp is a custom op without a tangent rule");
    expect(String(noJvp(x).gradFn)).toBe("<NoJvpBackward>");
  });

  it("a custom op's backward must give one gradient of the right shape per tensor input", () => {
    const bad = customOp({ name: "Bad", forward: (_ctx, a: Tensor, b: Tensor) => a.add(b), backward: (_ctx, g) => [g] });
    expect(() => bad(x, x).sum().backward()).toThrow("Bad.backward returned 1 gradient for 2 tensor inputs");
    const badShape = customOp({ name: "BadShape", forward: (_ctx, a: Tensor) => a.sum(), backward: (_ctx, g) => g });
    expect(() => badShape(x).backward()).toThrow("BadShape.backward: gradient 0 has shape [] but input 0 has shape [3]");
  });

  it("gradcheck needs float64 inputs", () => {
    expect(() => gradcheck((t: Tensor) => t.exp(), [tensor([1, 2]).requiresGrad_()])).toThrow("gradcheck: input 0 is float32; finite differences need float64");
  });
});
