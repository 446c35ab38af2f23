/**
 * kernel-lib's tensor ops against PyTorch: values and gradients recorded by
 * test/fixtures/torch/generate.py in test/fixtures/torch/reference.json.
 *
 * Each reference case is recomputed here in float64 by the implementation of
 * the same name in IMPL below; its output must match torch's and, for float
 * outputs, so must the gradient of sum(output * weight) with respect to every
 * input that requires grad. A reference case without an implementation here,
 * or an implementation without a reference case, fails: add the other half
 * (and regenerate the JSON with `/usr/bin/python3 test/fixtures/torch/generate.py`).
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
  matmul,
  dot,
  mseLoss,
  crossEntropy,
  softmax,
  logSoftmax,
  maximum,
  minimum,
  nn,
  optim,
  log1p,
  zerosLike,
  opTable,
  CHECKS,
  type NestedArray,
  type OpEntry,
} from "kernel-lib";

// float64 results must agree with torch's to about 9 significant digits (in
// practice they agree to a few ulps); exact zeros must be tiny.
const REL = 1e-9;
const ABS = 1e-12;

type RecordedDType = "float64" | "int64" | "bool";
interface Recorded {
  dtype: RecordedDType;
  shape: number[];
  requiresGrad?: boolean;
  value: NestedArray;
}
interface Case {
  name: string;
  op: string;
  args: Record<string, any>;
  inputs: Record<string, Recorded>;
  output: Recorded;
  weight?: NestedArray;
  grads?: Record<string, NestedArray>;
  direction?: Record<string, NestedArray>;
  hvp?: Record<string, NestedArray>;
  extras?: Record<string, Recorded>;
}
interface Reference {
  torch: string;
  dtype: string;
  cases: Case[];
}

const reference: Reference = JSON.parse(readFileSync(path.join(__dirname, "fixtures", "torch", "reference.json"), "utf8"));

const F64 = { dtype: "float64" } as const;
const KL_DTYPE: Record<RecordedDType, string> = { float64: "float64", int64: "int32", bool: "bool" };

function makeInput(r: Recorded): Tensor {
  switch (r.dtype) {
    case "float64":
      return tensor(r.value, { dtype: "float64", requiresGrad: r.requiresGrad === true });
    case "int64":
      return tensor(r.value, { dtype: "int32" });
    case "bool":
      return tensor(r.value, { dtype: "bool" });
  }
}

function flatten(v: NestedArray): number[] {
  if (Array.isArray(v)) return v.flatMap(flatten);
  return [typeof v === "boolean" ? (v ? 1 : 0) : v];
}

/** Check a kernel-lib tensor against a recorded torch tensor: shape, dtype and every value. */
function expectMatches(what: string, actual: Tensor | null, expected: Recorded): void {
  expect(actual, `${what}: missing`).not.toBeNull();
  const t = actual!;
  expect(t.shape, `${what}: shape`).toEqual(expected.shape);
  expect(t.dtype, `${what}: dtype`).toBe(KL_DTYPE[expected.dtype]);
  const got = Array.from(t.data());
  const want = flatten(expected.value);
  expect(got.length, `${what}: element count`).toBe(want.length);
  if (expected.dtype !== "float64") {
    expect(got, `${what}: values`).toEqual(want);
    return;
  }
  let worst = -1;
  let worstExcess = 0;
  got.forEach((g, i) => {
    const excess = Math.abs(g - want[i]) - (ABS + REL * Math.abs(want[i]));
    if (!(excess <= worstExcess)) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  });
  if (worst >= 0) {
    const rel = Math.abs(got[worst] - want[worst]) / Math.abs(want[worst]);
    throw new Error(
      `${what}: element ${worst} (flat) is ${got[worst]}, torch says ${want[worst]} (relative error ${rel.toExponential(2)}; ` +
        `tolerance rel ${REL}, abs ${ABS})\n  kernel-lib: ${JSON.stringify(got)}\n  torch:      ${JSON.stringify(want)}`,
    );
  }
}

type Inputs = Record<string, Tensor>;
type Result = Tensor | { output: Tensor; extras: Record<string, Tensor> };
type Impl = (t: Inputs, args: any) => Result;

/** sum((A @ p - y)^2) + 0.5 * sum((q - target)^2), as in generate.py. */
const quadratic = ({ p, q, A, y, target }: Inputs): Tensor =>
  A.matmul(p).sub(y).pow(2).sum().add(q.sub(target).pow(2).sum().mul(0.5));

/** `steps` optimizer steps on the quadratic: the loss before each step and the parameters after it. */
function trajectory(t: Inputs, steps: number, opt: optim.SGD | optim.Adam): Result {
  const losses: number[] = [];
  const ps: NestedArray[] = [];
  const qs: NestedArray[] = [];
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    const loss = quadratic(t);
    loss.backward();
    opt.step();
    losses.push(loss.item());
    ps.push(t.p.toArray());
    qs.push(t.q.toArray());
  }
  return { output: tensor(losses, F64), extras: { p: tensor(ps, F64), q: tensor(qs, F64) } };
}

const IMPL: Record<string, Impl> = {
  // (the unary ops' cases, named after them, are implemented from the op table below)
  "log1p/function": ({ x }) => log1p(x),

  // binary (add/sub/mul/div are filled in below)
  "rsub/scalar": ({ x }, a) => x.rsub(a.s),
  "pow/tensor-exponent": ({ x, y }) => x.pow(y),
  "pow/broadcast-exponent": ({ x, y }) => x.pow(y),
  "pow/scalar-3": ({ x }, a) => x.pow(a.p),
  "pow/scalar-0.5": ({ x }, a) => x.pow(a.p),
  maximum: ({ x, y }) => x.maximum(y),
  minimum: ({ x, y }) => x.minimum(y),
  "maximum/[2,3]-[3]": ({ x, y }) => maximum(x, y),
  "minimum/[2,3]-[3]": ({ x, y }) => minimum(x, y),
  where: ({ cond, x, y }) => where(cond, x, y),
  "where/scalar-other": ({ cond, x }, a) => where(cond, x, a.other),

  // reductions
  "sum/all": ({ x }) => x.sum(),
  "sum/dim0": ({ x }, a) => x.sum(a.dim),
  "sum/dim1-keepdim": ({ x }, a) => x.sum(a.dim, a.keepdim),
  "sum/dims[0,2]": ({ x }, a) => x.sum(a.dim),
  "sum/dim-1": ({ x }, a) => x.sum(a.dim),
  "mean/all": ({ x }) => x.mean(),
  "mean/dim0": ({ x }, a) => x.mean(a.dim),
  "mean/dim1-keepdim": ({ x }, a) => x.mean(a.dim, a.keepdim),
  "mean/dims[0,2]": ({ x }, a) => x.mean(a.dim),
  "mean/dim-1": ({ x }, a) => x.mean(a.dim),
  "max/all": ({ x }) => x.max(),
  "max/dim1": ({ x }, a) => x.max(a.dim),
  "max/dim0-keepdim": ({ x }, a) => x.max(a.dim, a.keepdim),
  "min/all": ({ x }) => x.min(),
  "min/dim0": ({ x }, a) => x.min(a.dim),
  "argmax/all": ({ x }) => x.argmax(),
  "argmax/dim1": ({ x }, a) => x.argmax(a.dim),
  "argmin/dim0": ({ x }, a) => x.argmin(a.dim),
  norm: ({ x }) => x.norm(),
  "softmax/dim1": ({ x }, a) => x.softmax(a.dim),
  "softmax/dim0": ({ x }, a) => softmax(x, a.dim),
  "logSoftmax/dim1": ({ x }, a) => x.logSoftmax(a.dim),
  "logSoftmax/large": ({ x }, a) => logSoftmax(x, a.dim),

  // products
  dot: ({ x, y }) => x.dot(y),
  "matmul/2d": ({ x, y }) => x.matmul(y),
  "matmul/[2,3,4]@[4,5]": ({ x, y }) => x.matmul(y),
  "matmul/[2,3,4]@[2,4,5]": ({ x, y }) => matmul(x, y),
  "matmul/[1,3,4]@[2,4,2]": ({ x, y }) => x.matmul(y),
  "matmul/[3,4]@[2,4,5]": ({ x, y }) => x.matmul(y),
  "matmul/1d@2d": ({ x, y }) => x.matmul(y),
  "matmul/2d@1d": ({ x, y }) => x.matmul(y),
  "matmul/1d@1d": ({ x, y }) => dot(x, y),
  "matmul/1d@3d": ({ x, y }) => x.matmul(y),

  // shape and indexing
  T: ({ x }) => x.T,
  "transpose/3d": ({ x }, a) => x.transpose(a.dims[0], a.dims[1]),
  "transpose/default": ({ x }) => x.transpose(),
  "permute/3d": ({ x }, a) => x.permute(...a.dims),
  reshape: ({ x }, a) => x.reshape(...a.shape),
  "reshape/3d": ({ x }, a) => x.reshape(a.shape),
  view: ({ x }, a) => x.view(...a.shape),
  flatten: ({ x }) => x.flatten(),
  expand: ({ x }, a) => x.expand(...a.shape),
  "expand/-1": ({ x }, a) => x.expand(a.shape),
  squeeze: ({ x }, a) => x.squeeze(a.dim),
  unsqueeze: ({ x }, a) => x.unsqueeze(a.dim),
  "gather/dim1": ({ x, index }, a) => x.gather(a.dim, index),
  "gather/dim0": ({ x, index }, a) => x.gather(a.dim, index),
  "cat/dim1": ({ x, y }, a) => cat([x, y], a.dim),
  "cat/dim0": ({ x, y, z }, a) => cat([x, y, z], a.dim),
  "stack/dim1": ({ x, y }, a) => stack([x, y], a.dim),
  "stack/dim0": ({ x, y, z }, a) => stack([x, y, z], a.dim),

  // losses
  mseLoss: ({ input, target }) => mseLoss(input, target),
  crossEntropy: ({ logits, target }) => crossEntropy(logits, target),

  // composites
  "composite/reuse": ({ x }) => x.mul(x).add(x.exp().mul(x.sum())).div(x.abs().add(1)).tanh(),
  "composite/mlp": ({ x, w1, b1, w2, b2 }) => x.matmul(w1.T).add(b1).tanh().matmul(w2.T).add(b2).sigmoid(),
  "nn.Linear": ({ x, weight, bias }, a) => {
    const layer = new nn.Linear(a.inFeatures, a.outFeatures);
    layer.weight = weight;
    layer.bias = bias;
    return layer.forward(x);
  },

  // optimizers
  "optim.SGD/momentum-weightDecay": (t, a) =>
    trajectory(t, a.steps, new optim.SGD([t.p, t.q], { lr: a.lr, momentum: a.momentum, weightDecay: a.weightDecay })),
  "optim.SGD/plain": (t, a) => trajectory(t, a.steps, new optim.SGD([t.p, t.q], { lr: a.lr })),
  "optim.Adam": (t, a) => trajectory(t, a.steps, new optim.Adam([t.p, t.q], { lr: a.lr, betas: a.betas, eps: a.eps })),
  "optim.Adam/weightDecay": (t, a) =>
    trajectory(t, a.steps, new optim.Adam([t.p, t.q], { lr: a.lr, betas: a.betas, eps: a.eps, weightDecay: a.weightDecay })),
};

// A case named after a one-input elementwise op of the op table is that op applied to x.
for (const [name, e] of Object.entries(opTable) as Array<[string, OpEntry]>) {
  if (e.kind === "elementwise" && e.arity === 1 && !(name in IMPL)) IMPL[name] = ({ x }) => (x as unknown as Record<string, () => Tensor>)[name]();
}

for (const op of ["add", "sub", "mul", "div"] as const) {
  for (const shapes of ["[2,3]-[3]", "[2,1]-[1,3]", "[3]-[2,3]"]) IMPL[`${op}/${shapes}`] = ({ x, y }) => x[op](y);
  IMPL[`${op}/scalar`] = ({ x }, a) => x[op](a.s);
}

for (const name of [
  "index/int",
  "index/int-slice",
  "index/slices",
  "index/step",
  "index/negative-step",
  "index/negative-step-bounds",
  "index/negative-int",
  "index/array-spec",
  "index/3d",
]) {
  IMPL[name] = ({ x }, a) => x.index(...a.specs);
}

function run(c: Case): void {
  const inputs: Inputs = {};
  for (const [k, r] of Object.entries(c.inputs)) inputs[k] = makeInput(r);
  const result = IMPL[c.name](inputs, c.args);
  const output = result instanceof Tensor ? result : result.output;
  expectMatches(`${c.name} output`, output, c.output);

  const extras = result instanceof Tensor ? {} : result.extras;
  expect(Object.keys(extras).sort(), `${c.name}: extra results`).toEqual(Object.keys(c.extras ?? {}).sort());
  for (const [k, r] of Object.entries(c.extras ?? {})) expectMatches(`${c.name} ${k}`, extras[k], r);

  if (c.weight === undefined) {
    expect(c.grads, `${c.name}: grads recorded without a weight`).toBeUndefined();
    return;
  }
  const needGrad = Object.keys(c.inputs).filter((k) => c.inputs[k].requiresGrad).sort();
  expect(Object.keys(c.grads ?? {}).sort(), `${c.name}: torch's gradients are for the inputs that require grad`).toEqual(needGrad);
  output.mul(tensor(c.weight, F64)).sum().backward();
  for (const k of needGrad) {
    expectMatches(`${c.name} d/d${k}`, inputs[k].grad, { dtype: "float64", shape: c.inputs[k].shape, value: c.grads![k] });
  }
  // Second order, on a fresh graph: the Hessian of sum(out * w + out^2 / 2) times torch's direction, by double backward.
  if (c.hvp === undefined) return;
  expect(Object.keys(c.hvp).sort(), `${c.name}: torch's Hessian-vector products`).toEqual(needGrad);
  const again: Inputs = {};
  for (const [k, r] of Object.entries(c.inputs)) again[k] = makeInput(r);
  const second = IMPL[c.name](again, c.args);
  const out = second instanceof Tensor ? second : second.output;
  out.mul(tensor(c.weight, F64)).add(out.mul(out).mul(0.5)).sum().backward({ createGraph: true });
  const along = needGrad.reduce((acc, k) => acc.add(again[k].grad!.mul(tensor(c.direction![k], F64)).sum()), tensor(0, F64));
  for (const k of needGrad) again[k].grad = null;
  if (along.requiresGrad) along.backward();
  for (const k of needGrad) {
    const hv = again[k].grad ?? zerosLike(again[k]);
    expectMatches(`${c.name} Hessian-vector product for ${k}`, hv, { dtype: "float64", shape: c.inputs[k].shape, value: c.hvp[k] });
  }
}

describe(`kernel-lib tensors match PyTorch ${reference.torch} (test/fixtures/torch/reference.json)`, () => {
  it("the reference is float64 and records the torch version", () => {
    expect(reference.dtype).toBe("float64");
    expect(reference.torch).toMatch(/^\d+\.\d+/);
    expect(reference.cases.length).toBeGreaterThan(0);
    expect(new Set(reference.cases.map((c) => c.name)).size, "case names are unique").toBe(reference.cases.length);
  });

  // The op table says which ops need a PyTorch reference: each must have a
  // case named after it ("sum" or "sum/...").
  const needed = (Object.entries(opTable) as Array<[string, OpEntry]>).filter(([, e]) => CHECKS[e.kind].includes("torch")).map(([n]) => n);
  it("every op in the op table that needs a PyTorch reference has one", () => {
    const missing = needed.filter((op) => !reference.cases.some((c) => c.name === op || c.name.startsWith(`${op}/`)));
    expect(missing, "ops without a case in generate.py").toEqual([]);
  });

  const byName = new Map(reference.cases.map((c) => [c.name, c]));
  const names = [...byName.keys(), ...Object.keys(IMPL).filter((n) => !byName.has(n))];
  for (const name of names) {
    it(name, () => {
      const c = byName.get(name);
      if (c === undefined) {
        throw new Error(`"${name}" has an implementation in IMPL but no case in reference.json: add it to generate.py and regenerate`);
      }
      if (!(name in IMPL)) {
        throw new Error(`reference case "${name}" (${c.op}) has no implementation in IMPL in test/tensor-torch.test.ts`);
      }
      run(c);
    });
  }
});
