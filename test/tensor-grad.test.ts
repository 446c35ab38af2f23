import { describe, expect, it } from "vitest";
import { Random, Tensor, tensor, cat, stack, where, mseLoss, crossEntropy, matmul, opTable, CHECKS, grad, jvp, jacfwd, jacrev, gradcheck as checkGradients, type OpEntry, type OpName } from "kernel-lib";

// Every op's gradient against central finite differences, in float64, on
// random shapes (broadcasting included); and with it the op's tangent rule
// (forward mode) and its second derivatives (the Hessian-vector product by
// reverse over reverse and by forward over reverse, against finite
// differences of the gradient). The list of ops comes from the op table:
// elementwise ops are checked from their entry (inputs drawn from the domain
// it gives), every other op needs its cases in CASES below, and an op
// without one fails.

const rng = new Random(2024);
const randInt = (lo: number, hi: number) => lo + Math.floor(rng.random() * (hi - lo + 1));

function randomValues(n: number, kind: "any" | "positive" | "away"): number[] {
  return Array.from({ length: n }, () => {
    if (kind === "positive") return 0.2 + 2 * rng.random();
    const v = 4 * rng.random() - 2;
    // keep clear of kinks (relu, abs, max) so the difference quotient is valid
    return kind === "away" && Math.abs(v) < 0.05 ? v + 0.2 : v;
  });
}

function make(shape: number[], kind: "any" | "positive" | "away" = "away"): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(randomValues(n, kind), { dtype: "float64" }).reshape(shape).requiresGrad_();
}

/** Compare backward() with central differences of sum(f(inputs) * w). */
function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], h = 1e-6): void {
  const out = f(...inputs);
  const w = tensor(randomValues(out.size, "any"), { dtype: "float64" }).reshape(out.shape);
  out.mul(w).sum().backward();
  const loss = (xs: Tensor[]) => f(...xs).mul(w).sum().item();
  inputs.forEach((x, k) => {
    const base = Array.from(x.data());
    const analytic = x.grad === null ? base.map(() => 0) : Array.from(x.grad.data());
    expect(x.grad?.shape ?? x.shape).toEqual(x.shape);
    base.forEach((_, i) => {
      const shifted = (delta: number) =>
        inputs.map((t, j) => {
          if (j !== k) return t.detach();
          const v = [...base];
          v[i] += delta;
          return tensor(v, { dtype: "float64" }).reshape(x.shape);
        });
      const numeric = (loss(shifted(h)) - loss(shifted(-h))) / (2 * h);
      const tol = 1e-6 + 1e-5 * Math.abs(numeric);
      if (Math.abs(analytic[i] - numeric) > tol) {
        throw new Error(`input ${k} element ${i}: analytic ${analytic[i]} vs numeric ${numeric}`);
      }
    });
  });
  secondOrder(f, inputs, w);
  // and kernel-lib's own gradcheck, the one students call, passes on it too
  expect(checkGradients(f, inputs)).toBe(true);
}

const near = (what: string, a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (Math.abs(a[i] - b[i]) > 1e-6 + 1e-5 * Math.abs(b[i])) throw new Error(`${what}, element ${i}: ${a[i]} vs ${b[i]}`);
  }
};

/**
 * The tangent rules and the second derivatives of f at the inputs: forward
 * mode along a random direction v against the gradients of sum(f * w)
 * (checked above), the whole Jacobian by forward mode (all directions in one
 * batched pass) against reverse mode, and the Hessian of sum(f * w + f^2 / 2) times v, by
 * reverse over reverse and by forward over reverse, against central
 * differences of its gradient along v.
 */
function secondOrder(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], w: Tensor, h = 1e-5): void {
  const xs = inputs.map((x) => x.detach());
  const all = xs.map((_, i) => i);
  const v = xs.map((x) => tensor(randomValues(x.size, "any"), { dtype: "float64" }).reshape(x.shape));
  const [, tangent] = jvp(f, xs, v);
  const gs = grad((...ys: Tensor[]) => f(...ys).mul(w).sum(), { argnums: all })(...xs);
  const along = gs.reduce((acc, g, k) => acc + g.mul(v[k]).sum().item(), 0);
  near("jvp against the gradient", [tangent.mul(w).sum().item()], [along]);
  // every direction at once (the batched tangents jacfwd pushes) against one backward pass per output element
  const byForward = jacfwd(f, all)(...xs);
  const byReverse = jacrev(f, all)(...xs);
  xs.forEach((_, k) => near(`jacfwd against jacrev, input ${k}`, byForward[k].data(), byReverse[k].data()));
  // (the square makes the gradient reaching each op depend on the inputs, so every op's backward is differentiated too)
  const loss = (...ys: Tensor[]) => {
    const y = f(...ys);
    return y.mul(w).add(y.mul(y).mul(0.5)).sum();
  };
  const gradient = grad(loss, { argnums: all });
  const rr = grad((...ys: Tensor[]) => gradient(...ys).reduce((acc, g, k) => acc.add(g.mul(v[k]).sum()), tensor(0, { dtype: "float64" })), { argnums: all })(...xs);
  const [, fr] = jvp((...ys: Tensor[]) => gradient(...ys), xs, v);
  const moved = (s: number) => gradient(...xs.map((x, k) => x.add(v[k].mul(s))));
  const [up, down] = [moved(h), moved(-h)];
  xs.forEach((_, k) => {
    const fd = Array.from(up[k].sub(down[k]).div(2 * h).data());
    near(`Hessian-vector product (reverse over reverse), input ${k}`, rr[k].data(), fd);
    near(`Hessian-vector product (forward over reverse), input ${k}`, fr[k].data(), fd);
  });
}

/** A random shape of 0-3 dims and a shape that broadcasts against it. */
function broadcastPair(): [number[], number[]] {
  const nd = randInt(0, 3);
  const a = Array.from({ length: nd }, () => randInt(1, 4));
  const b = a.map((d) => (rng.random() < 0.35 ? 1 : d));
  const drop = randInt(0, b.length);
  return rng.random() < 0.5 ? [a, b.slice(drop)] : [b.slice(drop), a];
}

type Kind = "any" | "positive" | "away";

const unaryTrials = (f: (x: Tensor) => Tensor, kind: Kind) => () => {
  for (let trial = 0; trial < 8; trial++) {
    const shape = Array.from({ length: randInt(0, 3) }, () => randInt(1, 4));
    gradcheck(f, [make(shape, kind)]);
  }
};
const binaryTrials = (f: (a: Tensor, b: Tensor) => Tensor, kind: Kind) => () => {
  for (let trial = 0; trial < 12; trial++) {
    const [sa, sb] = broadcastPair();
    gradcheck(f, [make(sa, kind), make(sb, kind)]);
  }
};

/** Checks for each op beyond the ones its table entry gives (elementwise ops). */
const CASES: Partial<Record<OpName, Array<() => void>>> = {
  add: [() => gradcheck((a) => a.mul(3).add(2).sub(1).div(4).rsub(5).pow(2), [make([2, 3])])], // number operands on either side
  div: [binaryTrials((a, b) => a.div(b.abs().add(0.5)), "any")],
  pow: [unaryTrials((x) => x.pow(3), "any"), unaryTrials((x) => x.pow(0.5), "positive")],
  rsub: [unaryTrials((x) => x.rsub(1), "any")],
  where: [binaryTrials((a, b) => where(a.gt(b), a.mul(2), b.exp()), "any")],

  sum: [
    unaryTrials((x) => x.sum(), "any"),
    () => {
      const x = () => make([2, 3, 4]);
      gradcheck((t) => t.sum(1), [x()]);
      gradcheck((t) => t.sum(-1, true), [x()]);
      gradcheck((t) => t.sum([0, 2]), [x()]);
    },
  ],
  mean: [
    unaryTrials((x) => x.mean(), "any"),
    () => {
      const x = () => make([2, 3, 4]);
      gradcheck((t) => t.mean(0), [x()]);
      gradcheck((t) => t.mean([1, 2], true), [x()]);
    },
  ],
  max: [unaryTrials((x) => x.max(), "any"), () => gradcheck((t) => t.max(1), [make([3, 4])])],
  min: [unaryTrials((x) => x.min(), "any"), () => gradcheck((t) => t.min(0, true), [make([3, 4])])],
  norm: [unaryTrials((x) => x.norm(), "away")],
  softmax: [
    () => {
      gradcheck((t) => t.softmax(1), [make([3, 5], "any")]);
      gradcheck((t) => t.softmax(-1), [make([2, 3, 4], "any")]);
    },
  ],
  logSoftmax: [() => gradcheck((t) => t.logSoftmax(0), [make([4, 2], "any")])],

  dot: [() => gradcheck((a, b) => a.dot(b), [make([5]), make([5])])],
  matmul: [
    () => {
      // 2-D with random sizes
      for (let t = 0; t < 6; t++) {
        const [m, k, n] = [randInt(1, 5), randInt(1, 5), randInt(1, 5)];
        gradcheck((a, b) => a.matmul(b), [make([m, k]), make([k, n])]);
      }
    },
    () => {
      // 1-D operands
      gradcheck((a, b) => a.matmul(b), [make([3]), make([3, 2])]);
      gradcheck((a, b) => a.matmul(b), [make([2, 3]), make([3])]);
    },
    () => {
      // batch dimensions and broadcasting
      gradcheck((a, b) => a.matmul(b), [make([2, 3, 4]), make([4, 2])]);
      gradcheck((a, b) => a.matmul(b), [make([2, 3, 4]), make([2, 4, 2])]);
      gradcheck((a, b) => matmul(a, b), [make([1, 3, 2]), make([2, 1, 2, 3])]);
    },
  ],

  reshape: [() => gradcheck((x) => x.reshape(3, -1), [make([2, 3, 2])])],
  view: [() => gradcheck((x) => x.view([2, 6]).mul(x.view(12).view(6, 2).T), [make([3, 4])])],
  flatten: [() => gradcheck((x) => x.flatten().mul(x.flatten()), [make([2, 3])])],
  squeeze: [() => gradcheck((x) => x.unsqueeze(1).squeeze(), [make([3, 2])])],
  unsqueeze: [() => gradcheck((x) => x.unsqueeze(0).mul(x.unsqueeze(1)), [make([3])])],
  transpose: [() => gradcheck((x) => x.transpose(0, 2), [make([2, 3, 4])])],
  permute: [() => gradcheck((x) => x.permute(2, 0, 1), [make([2, 3, 4])])],
  T: [() => gradcheck((x) => x.T.mul(x.T), [make([2, 3])])],
  expand: [() => gradcheck((x) => x.expand(2, 3, 4), [make([3, 1])])],
  index: [
    () => {
      gradcheck((x) => x.index(1), [make([3, 4])]);
      gradcheck((x) => x.index(":", "1:3"), [make([3, 4])]);
      gradcheck((x) => x.index("::-1", [0, 4, 2]), [make([3, 4])]);
      gradcheck((x) => x.index(-1, "1:"), [make([2, 3, 2])]);
    },
  ],
  gather: [
    () => {
      const index = tensor([[0, 2], [1, 1], [2, 0]], { dtype: "int32" });
      gradcheck((x) => x.gather(1, index), [make([3, 3])]);
    },
  ],
  cat: [
    () => {
      gradcheck((a, b) => cat([a, b], 1), [make([2, 3]), make([2, 1])]);
      gradcheck((a, b) => cat([a, b]), [make([1, 3]), make([2, 3])]);
    },
  ],
  stack: [() => gradcheck((a, b) => stack([a, b], 1), [make([2, 3]), make([2, 3])])],

  mseLoss: [() => gradcheck((a, b) => mseLoss(a, b), [make([4, 2]), make([4, 2])])],
  crossEntropy: [
    () => {
      const target = tensor([0, 2, 1, 2], { dtype: "int32" });
      gradcheck((logits) => crossEntropy(logits, target), [make([4, 3], "any")]);
    },
  ],

  clone: [unaryTrials((x) => x.clone(), "any")],
  // a dtype conversion passes the gradient through (converted back)
  to: [dtypeRoundTrip((x) => x.to("float32").to("float64"))],
  float: [dtypeRoundTrip((x) => x.float().double())],
  double: [
    () => {
      const x = tensor([1.5, -2, 0.25], { requiresGrad: true });
      const w = tensor([0.1, -2, 3.5], { dtype: "float64" });
      x.double().mul(w).sum().backward();
      expect(x.grad!.dtype).toBe("float32");
      expect(x.grad!.allclose(w.float())).toBe(true);
    },
  ],
  int: [
    () => {
      const y = make([3]).mul(3).int();
      expect(y.dtype).toBe("int32");
      expect(y.requiresGrad).toBe(false);
    },
  ],
  detach: [
    () => {
      const x = make([2]);
      x.mul(x.detach()).sum().backward();
      // d/dx of x * c, with c = x held constant: c
      expect(Array.from(x.grad!.data())).toEqual(Array.from(x.data()));
    },
  ],
};

function dtypeRoundTrip(f: (x: Tensor) => Tensor): () => void {
  return () => {
    const x = make([3]);
    const w = tensor([0.1, -2, 3.5], { dtype: "float64" });
    f(x).mul(w).sum().backward();
    expect(x.grad!.dtype).toBe("float64");
    expect(x.grad!.allclose(w, 1e-7)).toBe(true);
  };
}

/** An elementwise op's own check, made from its table entry. */
function fromEntry(name: string, e: OpEntry): Array<() => void> {
  if (e.kind !== "elementwise" || e.arity === undefined) return [];
  const kind = e.domain ?? "any";
  if (e.arity === 1) return [unaryTrials((x) => (x as unknown as Record<string, () => Tensor>)[name](), kind)];
  return [binaryTrials((a, b) => (a as unknown as Record<string, (o: Tensor) => Tensor>)[name](b), kind)];
}

describe("the gradient of every op in the op table", () => {
  const needed = (Object.entries(opTable) as Array<[OpName, OpEntry]>).filter(([, e]) => CHECKS[e.kind].includes("gradient"));
  for (const [name, entry] of needed) {
    it(name, () => {
      const checks = [...fromEntry(name, entry), ...(CASES[name] ?? [])];
      if (checks.length === 0) throw new Error(`${name} has no gradient check: add one to CASES in test/tensor-grad.test.ts`);
      for (const check of checks) check();
    });
  }
  it("has no cases for ops that are not in the table", () => {
    expect(Object.keys(CASES).filter((n) => !(n in opTable))).toEqual([]);
  });
});

describe("graph behaviour", () => {
  it("a tensor used several times gets every contribution", () => {
    gradcheck((x) => {
      const h = x.mul(2);
      return h.add(1).mul(h).sum(0).mul(h.mean());
    }, [make([3, 2])]);
  });
  it("gradients through data-dependent control flow", () => {
    gradcheck((a) => {
      let b = a.mul(2);
      while (b.norm().item() < 1000) b = b.mul(2);
      return b.sum().item() > 0 ? b : b.mul(100);
    }, [make([])]);
  });
});
