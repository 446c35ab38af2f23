import { describe, expect, it } from "vitest";
import { Random, Tensor, tensor, cat, stack, where, mseLoss, crossEntropy, matmul } from "kernel-lib";

// Every op's gradient against central finite differences, in float64, on
// random shapes (broadcasting included).

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
}

/** A random shape of 0-3 dims and a shape that broadcasts against it. */
function broadcastPair(): [number[], number[]] {
  const nd = randInt(0, 3);
  const a = Array.from({ length: nd }, () => randInt(1, 4));
  const b = a.map((d) => (rng.random() < 0.35 ? 1 : d));
  const drop = randInt(0, b.length);
  return rng.random() < 0.5 ? [a, b.slice(drop)] : [b.slice(drop), a];
}

const unary: Array<[string, (x: Tensor) => Tensor, "any" | "positive" | "away"]> = [
  ["neg", (x) => x.neg(), "any"],
  ["exp", (x) => x.exp(), "any"],
  ["log", (x) => x.log(), "positive"],
  ["sqrt", (x) => x.sqrt(), "positive"],
  ["abs", (x) => x.abs(), "away"],
  ["tanh", (x) => x.tanh(), "any"],
  ["sigmoid", (x) => x.sigmoid(), "any"],
  ["relu", (x) => x.relu(), "away"],
  ["pow 3", (x) => x.pow(3), "any"],
  ["pow 0.5", (x) => x.pow(0.5), "positive"],
  ["clone", (x) => x.clone(), "any"],
  ["rsub", (x) => x.rsub(1), "any"],
  ["sum", (x) => x.sum(), "any"],
  ["mean", (x) => x.mean(), "any"],
  ["norm", (x) => x.norm(), "away"],
  ["max", (x) => x.max(), "any"],
  ["min", (x) => x.min(), "any"],
];

describe("unary ops and full reductions", () => {
  for (const [name, f, kind] of unary) {
    it(name, () => {
      for (let trial = 0; trial < 8; trial++) {
        const shape = Array.from({ length: randInt(0, 3) }, () => randInt(1, 4));
        gradcheck(f, [make(shape, kind)]);
      }
    });
  }
});

const binary: Array<[string, (a: Tensor, b: Tensor) => Tensor, "any" | "positive"]> = [
  ["add", (a, b) => a.add(b), "any"],
  ["sub", (a, b) => a.sub(b), "any"],
  ["mul", (a, b) => a.mul(b), "any"],
  ["div", (a, b) => a.div(b.abs().add(0.5)), "any"],
  ["pow", (a, b) => a.pow(b), "positive"],
  ["maximum", (a, b) => a.maximum(b), "any"],
  ["minimum", (a, b) => a.minimum(b), "any"],
  ["where", (a, b) => where(a.gt(b), a.mul(2), b.exp()), "any"],
];

describe("binary ops with broadcasting", () => {
  for (const [name, f, kind] of binary) {
    it(name, () => {
      for (let trial = 0; trial < 12; trial++) {
        const [sa, sb] = broadcastPair();
        gradcheck(f, [make(sa, kind), make(sb, kind)]);
      }
    });
  }

  it("number operands on either side", () => {
    gradcheck((a) => a.mul(3).add(2).sub(1).div(4).rsub(5).pow(2), [make([2, 3])]);
  });
});

describe("reductions over dimensions", () => {
  it("sum and mean over one dim, several dims, keepdim", () => {
    const x = () => make([2, 3, 4]);
    gradcheck((t) => t.sum(1), [x()]);
    gradcheck((t) => t.sum(-1, true), [x()]);
    gradcheck((t) => t.sum([0, 2]), [x()]);
    gradcheck((t) => t.mean(0), [x()]);
    gradcheck((t) => t.mean([1, 2], true), [x()]);
  });
  it("max and min over a dim", () => {
    gradcheck((t) => t.max(1), [make([3, 4])]);
    gradcheck((t) => t.min(0, true), [make([3, 4])]);
  });
  it("softmax and logSoftmax", () => {
    gradcheck((t) => t.softmax(1), [make([3, 5], "any")]);
    gradcheck((t) => t.logSoftmax(0), [make([4, 2], "any")]);
    gradcheck((t) => t.softmax(-1), [make([2, 3, 4], "any")]);
  });
});

describe("products", () => {
  it("dot", () => gradcheck((a, b) => a.dot(b), [make([5]), make([5])]));
  it("matmul 2-D with random sizes", () => {
    for (let t = 0; t < 6; t++) {
      const [m, k, n] = [randInt(1, 5), randInt(1, 5), randInt(1, 5)];
      gradcheck((a, b) => a.matmul(b), [make([m, k]), make([k, n])]);
    }
  });
  it("matmul with 1-D operands", () => {
    gradcheck((a, b) => a.matmul(b), [make([3]), make([3, 2])]);
    gradcheck((a, b) => a.matmul(b), [make([2, 3]), make([3])]);
  });
  it("matmul with batch dimensions and broadcasting", () => {
    gradcheck((a, b) => a.matmul(b), [make([2, 3, 4]), make([4, 2])]);
    gradcheck((a, b) => a.matmul(b), [make([2, 3, 4]), make([2, 4, 2])]);
    gradcheck((a, b) => matmul(a, b), [make([1, 3, 2]), make([2, 1, 2, 3])]);
  });
});

describe("movement and indexing", () => {
  it("reshape, flatten, squeeze, unsqueeze", () => {
    gradcheck((x) => x.reshape(3, -1), [make([2, 3, 2])]);
    gradcheck((x) => x.flatten().mul(x.flatten()), [make([2, 3])]);
    gradcheck((x) => x.unsqueeze(1).squeeze(), [make([3, 2])]);
  });
  it("transpose, permute, T", () => {
    gradcheck((x) => x.transpose(0, 2), [make([2, 3, 4])]);
    gradcheck((x) => x.permute(2, 0, 1), [make([2, 3, 4])]);
    gradcheck((x) => x.T.mul(x.T), [make([2, 3])]);
  });
  it("expand", () => gradcheck((x) => x.expand(2, 3, 4), [make([3, 1])]));
  it("index and slices", () => {
    gradcheck((x) => x.index(1), [make([3, 4])]);
    gradcheck((x) => x.index(":", "1:3"), [make([3, 4])]);
    gradcheck((x) => x.index("::-1", [0, 4, 2]), [make([3, 4])]);
    gradcheck((x) => x.index(-1, "1:"), [make([2, 3, 2])]);
  });
  it("gather", () => {
    const index = tensor([[0, 2], [1, 1], [2, 0]], { dtype: "int32" });
    gradcheck((x) => x.gather(1, index), [make([3, 3])]);
  });
  it("cat and stack", () => {
    gradcheck((a, b) => cat([a, b], 1), [make([2, 3]), make([2, 1])]);
    gradcheck((a, b) => cat([a, b]), [make([1, 3]), make([2, 3])]);
    gradcheck((a, b) => stack([a, b], 1), [make([2, 3]), make([2, 3])]);
  });
});

describe("losses", () => {
  it("mseLoss", () => gradcheck((a, b) => mseLoss(a, b), [make([4, 2]), make([4, 2])]));
  it("crossEntropy", () => {
    const target = tensor([0, 2, 1, 2], { dtype: "int32" });
    gradcheck((logits) => crossEntropy(logits, target), [make([4, 3], "any")]);
  });
});

describe("graph behaviour", () => {
  it("a dtype conversion passes the gradient through (converted back)", () => {
    const x = make([3]);
    const w = tensor([0.1, -2, 3.5], { dtype: "float64" });
    x.float().double().mul(w).sum().backward();
    expect(x.grad!.dtype).toBe("float64");
    expect(x.grad!.allclose(w, 1e-7)).toBe(true);
  });

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
