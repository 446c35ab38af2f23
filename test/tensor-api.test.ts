import { describe, expect, it } from "vitest";
import {
  tensor,
  zeros,
  ones,
  full,
  arange,
  linspace,
  rand,
  randn,
  randint,
  manualSeed,
  noGrad,
  isGradEnabled,
  where,
  cat,
  stack,
  crossEntropy,
  mseLoss,
  nn,
  optim,
  relu,
  sigmoid,
  tanh,
  type Tensor,
  type NestedArray,
} from "kernel-lib";

describe("creation", () => {
  it("tensor() from numbers, nested arrays, booleans and typed arrays", () => {
    expect(tensor(3).shape).toEqual([]);
    expect(tensor([[1, 2, 3], [4, 5, 6]]).shape).toEqual([2, 3]);
    expect(tensor([[1, 2], [3, 4]]).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(tensor([true, false]).dtype).toBe("bool");
    expect(tensor(new Float64Array([1, 2])).dtype).toBe("float64");
    expect(tensor([1, 2], { dtype: "int32" }).dtype).toBe("int32");
    expect(tensor([1.5]).dtype).toBe("float32");
  });

  it("rejects ragged and non-numeric input", () => {
    expect(() => tensor([[1, 2], [3]])).toThrow("tensor: ragged nested array: data[1] has length 1, expected length 2");
    expect(() => tensor([1, "a" as unknown as number])).toThrow("tensor: data[1] is a; expected a number or boolean");
  });

  it("zeros, ones, full, arange, linspace", () => {
    expect(zeros(2, 3).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(ones([2]).toArray()).toEqual([1, 1]);
    expect(full([2], 7).toArray()).toEqual([7, 7]);
    expect(arange(4).toArray()).toEqual([0, 1, 2, 3]);
    expect(arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(linspace(0, 1, 5).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(() => arange(0, 1, 0)).toThrow("arange: step must not be zero");
    expect(() => zeros(2, -1)).toThrow("zeros: sizes must be non-negative integers, got [2, -1]");
  });

  it("manualSeed makes rand, randn and randint reproducible", () => {
    manualSeed(42);
    const a = [rand(3).toArray(), randn(2, 2).toArray(), randint(0, 10, [5]).toArray()];
    manualSeed(42);
    const b = [rand(3).toArray(), randn(2, 2).toArray(), randint(0, 10, [5]).toArray()];
    expect(a).toEqual(b);
    const r = randint(0, 3, [1000]).data();
    expect(Math.min(...r)).toBe(0);
    expect(Math.max(...r)).toBe(2);
    const n = randn(10000).data();
    const mean = n.reduce((s, v) => s + v, 0) / n.length;
    const sd = Math.sqrt(n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(sd - 1)).toBeLessThan(0.05);
  });
});

describe("values", () => {
  it("activations as free functions, like torch.relu", () => {
    const t = tensor([-2, -0.5, 0, 0.5, 2]);
    expect(relu(t).toArray()).toEqual([0, 0, 0, 0.5, 2]);
    expect(sigmoid(t).toArray()).toEqual(t.sigmoid().toArray());
    expect(tanh(t).toArray()).toEqual(t.tanh().toArray());
  });

  it("broadcasting arithmetic", () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(a.add(tensor([10, 20, 30])).toArray()).toEqual([[11, 22, 33], [14, 25, 36]]);
    expect(a.mul(tensor([[2], [3]])).toArray()).toEqual([[2, 4, 6], [12, 15, 18]]);
    expect(a.sub(1).div(2).toArray()).toEqual([[0, 0.5, 1], [1.5, 2, 2.5]]);
  });

  it("one op over every mix of dtypes and layouts in turn: each layout gets its own compiled loop", () => {
    // (the CPU backend caches a loop per op, dtypes and layouts: a key that mixed two layouts up would read the wrong elements)
    for (const dtype of ["float32", "float64", "int32"] as const) {
      const a = tensor([[1, 2, 3], [4, 5, 6]], { dtype });
      const b = tensor([[10, 20, 30], [40, 50, 60]], { dtype });
      expect(a.add(b).toArray()).toEqual([[11, 22, 33], [44, 55, 66]]); // contiguous, contiguous
      expect(a.add(tensor(100, { dtype })).toArray()).toEqual([[101, 102, 103], [104, 105, 106]]); // one value
      expect(tensor(100, { dtype }).add(a).toArray()).toEqual([[101, 102, 103], [104, 105, 106]]);
      expect(a.T.add(b.T).toArray()).toEqual([[11, 44], [22, 55], [33, 66]]); // strided
      expect(a.add(b.T.T).dtype).toBe(dtype);
    }
    expect(where(tensor([true, false]), tensor([1, 2]), tensor([3, 4])).toArray()).toEqual([1, 4]);
    expect(where(tensor([true, false]), tensor([1, 2], { dtype: "int32" }), tensor([3, 4], { dtype: "int32" })).dtype).toBe("int32");
  });

  it("reductions, arg reductions and comparisons", () => {
    const a = tensor([[1, 5, 3], [4, 2, 6]]);
    expect(a.sum().item()).toBe(21);
    expect(a.sum(0).toArray()).toEqual([5, 7, 9]);
    expect(a.mean(1, true).toArray()).toEqual([[3], [4]]);
    expect(a.max(1).toArray()).toEqual([5, 6]);
    expect(a.argmax(1).toArray()).toEqual([1, 2]);
    expect(a.argmin().item()).toBe(0);
    expect(a.gt(3).toArray()).toEqual([[false, true, false], [true, false, true]]);
    expect(where(a.gt(3), a, 0).toArray()).toEqual([[0, 5, 0], [4, 0, 6]]);
    expect(a.gt(3).sum().item()).toBe(3);
  });

  it("matmul, transpose, indexing, gather, cat, stack", () => {
    const a = tensor([[1, 2], [3, 4]]);
    expect(a.matmul(a).toArray()).toEqual([[7, 10], [15, 22]]);
    expect(a.T.toArray()).toEqual([[1, 3], [2, 4]]);
    const x = arange(12).reshape(3, 4);
    expect(x.index(1).toArray()).toEqual([4, 5, 6, 7]);
    expect(x.index(":", "1:3").toArray()).toEqual([[1, 2], [5, 6], [9, 10]]);
    expect(x.index("::-1", -1).toArray()).toEqual([11, 7, 3]);
    expect(x.index([0, 3, 2], [1, undefined, 2]).toArray()).toEqual([[1, 3], [9, 11]]);
    expect(x.gather(1, tensor([[3], [0], [1]], { dtype: "int32" })).toArray()).toEqual([[3], [4], [9]]);
    expect(cat([a, a], 1).toArray()).toEqual([[1, 2, 1, 2], [3, 4, 3, 4]]);
    expect(stack([tensor([1, 2]), tensor([3, 4])]).toArray()).toEqual([[1, 2], [3, 4]]);
  });

  it("float32 matmul (the WebAssembly SIMD kernel, split across threads) matches float64", () => {
    manualSeed(3);
    for (const [m, k, n] of [[5, 7, 9], [65, 130, 33], [257, 300, 129], [8, 1024, 8]]) {
      const a = randn(m, k);
      const b = randn(k, n);
      const exact = a.double().matmul(b.double());
      expect(a.matmul(b).double().allclose(exact, 1e-4, 1e-4)).toBe(true);
    }
    const a = randn([3, 40, 50]);
    const b = randn([3, 50, 60]);
    expect(a.matmul(b).double().allclose(a.double().matmul(b.double()), 1e-4, 1e-4)).toBe(true);
  });

  it("float32 matmul gradients (transposed operands read in place) match float64", () => {
    manualSeed(4);
    const x = randn([70, 130]);
    const w = randn([33, 130]);
    const grads = (dtype: "float32" | "float64") => {
      const xi = x.to(dtype).detach().requiresGrad_();
      const wi = w.to(dtype).detach().requiresGrad_();
      const layer = new nn.Linear(130, 33);
      layer.weight = wi;
      layer.forward(xi).matmul(randn([33, 40]).to(dtype)).tanh().sum().backward();
      return [xi.grad!.double(), wi.grad!.double()];
    };
    manualSeed(5);
    const [gx32, gw32] = grads("float32");
    manualSeed(5);
    const [gx64, gw64] = grads("float64");
    // float32 rounding over these sums is about 1e-5 of the largest gradient (about 20); a wrong transpose is off by O(10)
    expect(gx32.allclose(gx64, 1e-3, 2e-3)).toBe(true);
    expect(gw32.allclose(gw64, 1e-3, 2e-3)).toBe(true);
  });

  it("softmax rows sum to one; crossEntropy matches the hand formula", () => {
    const logits = tensor([[1, 2, 3], [1, 1, 1]], { dtype: "float64" });
    expect(logits.softmax(1).sum(1).allclose(ones(2))).toBe(true);
    const loss = crossEntropy(logits, tensor([2, 0], { dtype: "int32" })).item();
    const l1 = -Math.log(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3)));
    const l2 = -Math.log(1 / 3);
    expect(loss).toBeCloseTo((l1 + l2) / 2, 12);
    expect(tensor([[1000, 0]]).logSoftmax(1).toArray()).toEqual([[0, -1000]]);
  });
});

describe("autograd API", () => {
  it("grad is null until backward, then accumulates until zeroed", () => {
    const x = arange(4).requiresGrad_();
    expect(x.grad).toBeNull();
    x.dot(x).mul(2).backward();
    expect(x.grad!.toArray()).toEqual([0, 4, 8, 12]);
    x.sum().backward();
    expect(x.grad!.toArray()).toEqual([1, 5, 9, 13]);
    x.grad!.zero_();
    x.sum().backward();
    expect(x.grad!.toArray()).toEqual([1, 1, 1, 1]);
  });

  it("detach cuts the graph; noGrad records nothing", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const u = x.mul(x).detach();
    u.mul(x).sum().backward();
    expect(x.grad!.toArray()).toEqual([1, 4, 9]);
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return x.mul(2);
    });
    expect(isGradEnabled()).toBe(true);
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
  });

  it("non-scalar backward needs an explicit gradient", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(/grad can be implicitly created only for scalar outputs; this tensor has shape \[2\]/);
    expect(() => x.mul(2).backward(ones(3))).toThrow("backward: gradient has shape [3] but the tensor has shape [2]");
    expect(() => tensor([1, 2]).sum().backward()).toThrow(/does not require grad/);
  });

  it("an in-place change to a saved tensor is detected at backward", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(2);
    const z = y.mul(y);
    noGrad(() => y.add_(1));
    expect(() => z.sum().backward()).toThrow(/MulBackward: a tensor of shape \[3\] that this gradient needs was modified by an in-place operation \(it is at version 1; the graph saved version 0\)/);
  });

  // PyTorch's semantics: every view op shares memory with its input, so an
  // in-place op on either one shows in both; gather, clone and arithmetic copy.
  const views: Array<[string, (x: Tensor) => Tensor, NestedArray]> = [
    // the op, and x = arange(6).reshape(2, 3) after view.add_(10) where the view reaches
    ["reshape", (x) => x.reshape(3, 2), [[10, 11, 12], [13, 14, 15]]],
    ["view", (x) => x.view([6]), [[10, 11, 12], [13, 14, 15]]],
    ["flatten", (x) => x.flatten(), [[10, 11, 12], [13, 14, 15]]],
    ["squeeze", (x) => x.unsqueeze(0).squeeze(), [[10, 11, 12], [13, 14, 15]]],
    ["unsqueeze", (x) => x.unsqueeze(1), [[10, 11, 12], [13, 14, 15]]],
    ["detach", (x) => x.detach(), [[10, 11, 12], [13, 14, 15]]],
    ["permute", (x) => x.permute(1, 0), [[10, 11, 12], [13, 14, 15]]],
    ["transpose", (x) => x.transpose(0, 1), [[10, 11, 12], [13, 14, 15]]],
    ["T", (x) => x.T, [[10, 11, 12], [13, 14, 15]]],
    ["index", (x) => x.index(":", "0:2"), [[10, 11, 2], [13, 14, 5]]],
    ["index (a row)", (x) => x.index(1), [[0, 1, 2], [13, 14, 15]]],
    ["index (a step)", (x) => x.index("::-1", "::2"), [[10, 1, 12], [13, 4, 15]]],
    ["a view of a view", (x) => x.T.index(1).unsqueeze(0), [[0, 11, 2], [3, 14, 5]]],
  ];

  it("every view op shares memory: an in-place write to the view changes the input", () => {
    for (const [name, f, after] of views) {
      const x = arange(6).reshape(2, 3);
      f(x).add_(10);
      expect(x.toArray(), name).toEqual(after);
    }
  });

  it("every view op shares memory: an in-place write to the input shows in the view", () => {
    for (const [name, f] of [...views, ["expand", (x: Tensor) => x.index(0).expand(2, 3)] as const]) {
      const x = arange(6).reshape(2, 3);
      const y = f(x);
      const before = y.toArray();
      x.mul_(-1);
      expect(y.toArray(), name).toEqual(tensor(before as NestedArray).neg().toArray());
    }
  });

  it("writes through views keep the other elements and the dtype, and bump the version", () => {
    const x = arange(12, undefined, 1, { dtype: "int32" }).reshape(3, 4);
    const v = x.index("1:", "::3");
    v.fill_(-1);
    expect(x.toArray()).toEqual([[0, 1, 2, 3], [-1, 5, 6, -1], [-1, 9, 10, -1]]);
    expect(x.dtype).toBe("int32");
    v.copy_(tensor([[7, 8], [9, 10]], { dtype: "int32" }));
    expect(x.index("1:", "::3").toArray()).toEqual([[7, 8], [9, 10]]);
    const w = tensor([1, 2, 3], { requiresGrad: true });
    const y = w.mul(1);
    const z = y.mul(y);
    noGrad(() => y.index("1:").zero_());
    expect(() => z.sum().backward()).toThrow(/modified by an in-place operation/);
  });

  it("an expanded view cannot be written in place (several elements share a location)", () => {
    const x = arange(3);
    expect(() => x.expand(2, 3).add_(1)).toThrow("add_: this tensor is an expanded view in which several elements share one memory location");
    expect(x.toArray()).toEqual([0, 1, 2]);
  });

  it("gather, clone and arithmetic copy: in-place writes stay in the result", () => {
    const copies: Array<[string, (x: Tensor) => Tensor]> = [
      ["gather", (x) => x.gather(1, tensor([[0], [1]], { dtype: "int32" }))],
      ["clone", (x) => x.clone()],
      ["add", (x) => x.add(0)],
      ["contiguous copy of a view (reshape of a transpose)", (x) => x.T.reshape(6)],
    ];
    for (const [name, f] of copies) {
      const x = arange(6).reshape(2, 3);
      f(x).add_(10);
      expect(x.toArray(), name).toEqual([[0, 1, 2], [3, 4, 5]]);
    }
  });

  it("leaves that receive the same gradient tensor get their own copies (accumulation and zero_ stay separate)", () => {
    // add hands one gradient tensor to both inputs; T hands a view of it on
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4], { requiresGrad: true });
    const c = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const d = tensor([[0, 1], [1, 0]], { requiresGrad: true });
    for (let i = 0; i < 2; i++) {
      a.add(b).mul(tensor([2, 3])).sum().backward();
      c.add(d.T).mul(tensor([[1, 2], [3, 4]])).sum().backward();
    }
    expect(a.grad!.toArray()).toEqual([4, 6]);
    expect(b.grad!.toArray()).toEqual([4, 6]);
    expect(c.grad!.toArray()).toEqual([[2, 4], [6, 8]]);
    expect(d.grad!.toArray()).toEqual([[2, 6], [4, 8]]);
    a.grad!.zero_();
    expect(b.grad!.toArray()).toEqual([4, 6]);
  });

  it("a leaf used twice in one pass gets the sum of both gradients", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = tensor([5, 7], { requiresGrad: true });

    const h = x.add(y.mul(1));
    h.mul(x).sum().backward();
    expect(x.grad!.toArray()).toEqual([7, 11]); // d/dx (x + y) x = 2x + y
    expect(y.grad!.toArray()).toEqual([1, 2]); // = x
  });

  it("in-place changes to a leaf that requires grad need noGrad", () => {
    const w = tensor([1, 2], { requiresGrad: true });
    expect(() => w.sub_(1)).toThrow("sub_: a leaf tensor that requires grad cannot be changed in place while gradients are recorded");
    noGrad(() => w.sub_(1));
    expect(w.toArray()).toEqual([0, 1]);
  });
});

describe("gradients at singular points follow torch's conventions", () => {
  const f = { dtype: "float64", requiresGrad: true } as const;
  it("pow at a zero base", () => {
    const x = tensor([0, 2], f);
    const y = tensor([2, 3], f);
    x.pow(y).sum().backward();
    expect(x.grad!.toArray()).toEqual([0, 12]);
    expect(y.grad!.index(0).item()).toBe(0);
    const z = tensor([0, 2], f);
    z.pow(0).sum().backward();
    expect(z.grad!.toArray()).toEqual([0, 0]);
  });
  it("norm of the zero vector", () => {
    const x = tensor([0, 0], f);
    x.norm().backward();
    expect(x.grad!.toArray()).toEqual([0, 0]);
  });
  it("ties: maximum splits, max over a dim picks the argmax, max over all shares", () => {
    const x = tensor([1, 2], f);
    const y = tensor([1, 3], f);
    x.maximum(y).sum().backward();
    expect([x.grad!.toArray(), y.grad!.toArray()]).toEqual([[0.5, 0], [0.5, 1]]);
    const m = tensor([[3, 3, 1]], f);
    m.max(1).sum().backward();
    expect(m.grad!.toArray()).toEqual([[1, 0, 0]]);
    const a = tensor([3, 3, 1], f);
    a.max().backward();
    expect(a.grad!.toArray()).toEqual([0.5, 0.5, 0]);
  });
});

describe("errors name the op and the shapes", () => {
  const cases: Array<[string, () => unknown, string | RegExp]> = [
    ["broadcast mismatch", () => ones(2, 3).add(ones(4)), "add: shapes [2, 3] and [4] cannot be broadcast together (dimension 1: 3 vs 4)"],
    ["matmul inner dimension", () => ones(2, 3).matmul(ones(4, 5)), "matmul: inner dimensions differ: [2, 3] @ [4, 5] (3 vs 4)"],
    ["dot of matrices", () => ones(2, 2).dot(ones(2)), "dot: expects two 1-D tensors of the same length, got [2, 2] and [2]"],
    ["index out of range", () => ones(3, 4).index(0, 4), "index: index 4 is out of range for dimension 1 of size 4"],
    ["dimension out of range", () => ones(3).sum(1), "sum: dimension 1 is out of range for a tensor with 1 dimension"],
    ["gather index out of range", () => ones(2, 2).gather(1, tensor([[0], [2]], { dtype: "int32" })), "gather: index 2 is out of range for dimension 1 of size 2"],
    ["crossEntropy target out of range", () => crossEntropy(ones(2, 3), tensor([0, 3], { dtype: "int32" })), "crossEntropy: target 3 is out of range for dimension 1 of size 3"],
    ["crossEntropy float targets", () => crossEntropy(ones(2, 3), tensor([0, 1])), "crossEntropy: the target must be an int32 tensor, got float32"],
    ["float op on an int tensor", () => tensor([1, 2], { dtype: "int32" }).exp(), "exp: needs a floating-point tensor, got int32 (convert with .float())"],
    ["mean of ints", () => arange(3, undefined, 1, { dtype: "int32" }).mean(), "mean: needs a floating-point tensor, got int32 (convert with .float())"],
    ["int requiresGrad", () => tensor([1], { dtype: "int32" }).requiresGrad_(), "requiresGrad_: only floating-point tensors can require gradients, got int32 (convert with .float())"],
    ["reshape size", () => ones(2, 3).reshape(4, 2), "reshape: shape [4, 2] is invalid for a tensor of 6 elements (shape [2, 3])"],
    ["mseLoss shapes", () => mseLoss(ones(3), ones(3, 1)), "mseLoss: input shape [3] and target shape [3, 1] differ (reshape one so they match)"],
    ["item of many", () => ones(2).item(), "item: only one-element tensors can be converted to a number; this one has shape [2]"],
    ["cat shapes", () => cat([ones(2, 3), ones(2, 2)]), "cat: shapes [2, 3], [2, 2] differ outside dimension 0"],
    ["stack shapes", () => stack([ones(2), ones(3)]), "stack: all tensors need the same shape, got [2], [3]"],
    ["bad slice", () => ones(3).index("a:b"), 'index: "a:b" is not a slice like "1:3", ":2", "::-1"'],
    ["max of empty", () => zeros(0).max(), "max: cannot reduce an empty tensor of shape [0]"],
    ["Linear input features", () => new nn.Linear(3, 2).forward(ones(4, 5)), "Linear(3, 2): input has 5 features (shape [4, 5])"],
    ["SGD bad lr", () => new optim.SGD([tensor([1], { requiresGrad: true })], { lr: NaN }), "SGD: lr must be a finite number >= 0, got NaN"],
    ["optimizer param without grad", () => new optim.SGD([tensor([1])], { lr: 0.1 }), "SGD: a parameter of shape [1] does not require grad"],
  ];
  for (const [name, f, message] of cases) {
    it(name, () => expect(f).toThrow(message));
  }
});

describe("printing looks like torch", () => {
  it("vectors, scalars, gradFn, requiresGrad", () => {
    expect(String(tensor([6, 18]))).toBe("tensor([ 6., 18.])");
    expect(String(arange(4))).toBe("tensor([0., 1., 2., 3.])");
    const x = arange(4).requiresGrad_();
    expect(String(x)).toBe("tensor([0., 1., 2., 3.], requiresGrad=true)");
    expect(String(x.dot(x).mul(2))).toBe("tensor(28., gradFn=<MulBackward>)");
    expect(String(tensor([1.5, -2.25]))).toBe("tensor([ 1.5000, -2.2500])");
    expect(String(tensor([1e-5, 1]))).toBe("tensor([1.0000e-05, 1.0000e+00])");
    expect(String(tensor([true, false]))).toBe("tensor([ true, false])"); // padded, as torch pads True/False
    expect(String(tensor([1, 2], { dtype: "int32" }))).toBe("tensor([1, 2])");
    expect(String(tensor([1], { dtype: "float64" }))).toBe("tensor([1.], dtype=float64)");
    expect(String(tensor(NaN))).toBe("tensor(nan)");
  });

  it("2-D layout and summaries of large tensors", () => {
    expect(String(tensor([[1, 2], [3, 4]]))).toBe("tensor([[1., 2.],\n        [3., 4.]])");
    expect(String(arange(2000))).toBe("tensor([   0.,    1.,    2.,  ..., 1997., 1998., 1999.])");
    const big = String(arange(3000).reshape(1000, 3));
    expect(big.split("\n")).toEqual([
      "tensor([[   0.,    1.,    2.],",
      "        [   3.,    4.,    5.],",
      "        [   6.,    7.,    8.],",
      "        ...,",
      "        [2991., 2992., 2993.],",
      "        [2994., 2995., 2996.],",
      "        [2997., 2998., 2999.]])",
    ]);
  });
});

describe("layers and optimizers", () => {
  it("SGD fits the lecture's line with tensors", () => {
    manualSeed(0);
    const x = linspace(0, 1, 101);
    const y = x.mul(5).sub(3).add(rand(101).mul(2).sub(1));
    const w0 = zeros([], { requiresGrad: true });
    const w1 = zeros([], { requiresGrad: true });
    const opt = new optim.SGD([w0, w1], { lr: 0.1 });
    for (let i = 0; i < 1000; i++) {
      opt.zeroGrad();
      mseLoss(w1.mul(x).add(w0), y).backward();
      opt.step();
    }
    // the least-squares solution, by the normal equations
    const xs = Array.from(x.data());
    const ys = Array.from(y.data());
    const mx = xs.reduce((a, b) => a + b) / 101;
    const my = ys.reduce((a, b) => a + b) / 101;
    const slope = xs.reduce((s, xi, i) => s + (xi - mx) * (ys[i] - my), 0) / xs.reduce((s, xi) => s + (xi - mx) ** 2, 0);
    expect(w1.item()).toBeCloseTo(slope, 1);
    expect(w0.item()).toBeCloseTo(my - slope * mx, 1);
  });

  it("an MLP with Adam learns XOR", () => {
    manualSeed(1);
    const X = tensor([[0, 0], [0, 1], [1, 0], [1, 1]]);
    const labels = tensor([0, 1, 1, 0], { dtype: "int32" });
    const model = new nn.Sequential(new nn.Linear(2, 8), new nn.Tanh(), new nn.Linear(8, 2));
    expect(model.parameters().length).toBe(4);
    const opt = new optim.Adam(model.parameters(), { lr: 0.05 });
    for (let i = 0; i < 300; i++) {
      opt.zeroGrad();
      crossEntropy(model.forward(X), labels).backward();
      opt.step();
    }
    expect(model.forward(X).argmax(1).toArray()).toEqual([0, 1, 1, 0]);
  });

  it("SGD momentum and weight decay follow torch's update rule", () => {
    const p = tensor([1], { requiresGrad: true, dtype: "float64" });
    const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.5 });
    // loss = p^2: grad 2p; with decay g = 2p + 0.5p; v = 0.9 v + g; p -= 0.1 v
    let ref = 1;
    let v = 0;
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad();
      p.mul(p).sum().backward();
      opt.step();
      const g = 2 * ref + 0.5 * ref;
      v = i === 0 ? g : 0.9 * v + g;
      ref -= 0.1 * v;
    }
    expect(p.item()).toBeCloseTo(ref, 12);
  });
});
