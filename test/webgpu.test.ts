import { afterAll, describe, expect, it } from "vitest";
import {
  Random,
  cat,
  crossEntropy,
  initWebGPU,
  liveBufferCount,
  mseLoss,
  nn,
  optim,
  releaseWebGPU,
  stack,
  tensor,
  tidy,
  where,
  zeros,
  opTable,
  CHECKS,
  grad,
  jvp,
  jacrev,
  jacfwd,
  hessian,
  hvp,
  gradcheck,
  type Device,
  type OpEntry,
  type OpName,
  type Tensor,
} from "kernel-lib";

// Every op and gradient on WebGPU against the CPU backend. Under CI=true a
// missing adapter fails the run; elsewhere these tests skip and say why.

let reason = "";
try {
  const a = await initWebGPU();
  console.log(`webgpu tests on ${a.vendor} ${a.device} (${a.description})`);
} catch (e) {
  reason = (e as Error).message;
}
const available = reason === "";
if (!available) console.log(`webgpu tests skipped: ${reason}`);

if (!available && process.env.CI === "true") {
  it("has a WebGPU adapter (required in CI)", () => {
    throw new Error(`no WebGPU adapter in CI: ${reason}`);
  });
}

afterAll(() => releaseWebGPU());

type Any = Tensor<Device>;
const rng = new Random(7);
const randInt = (lo: number, hi: number) => lo + Math.floor(rng.random() * (hi - lo + 1));
function values(n: number, kind: "any" | "positive" = "any"): number[] {
  return Array.from({ length: n }, () => (kind === "positive" ? 0.2 + 2 * rng.random() : 4 * rng.random() - 2));
}
function pair(shape: number[], kind: "any" | "positive" = "any"): [Tensor<"cpu">, Tensor<"webgpu">] {
  const v = values(shape.reduce((a, b) => a * b, 1), kind);
  const cpu = tensor(v).reshape(shape);
  return [cpu, cpu.to("webgpu")];
}

async function expectSame(gpu: Any, cpu: Any, rel = 1e-4, abs = 1e-5): Promise<void> {
  expect(gpu.device).toBe("webgpu");
  expect(gpu.shape).toEqual(cpu.shape);
  expect(gpu.dtype).toBe(cpu.dtype);
  const g = Array.from(await gpu.data());
  const c = Array.from(await cpu.data());
  g.forEach((v, i) => {
    if (Number.isNaN(c[i])) expect(v).toBeNaN();
    else if (!Number.isFinite(c[i])) expect(v).toBe(c[i]);
    else if (Math.abs(v - c[i]) > abs + rel * Math.abs(c[i])) throw new Error(`element ${i}: webgpu ${v} vs cpu ${c[i]}`);
  });
}

/** Run f on CPU and GPU inputs; compare outputs and the gradients of sum(out * w). */
async function sameWithGrads(f: (...xs: Any[]) => Any, shapes: number[][], kind: "any" | "positive" = "any", rel = 1e-4): Promise<void> {
  const pairs = shapes.map((s) => pair(s, kind));
  const cpuIn = pairs.map(([c]) => c.detach().requiresGrad_());
  const gpuIn = pairs.map(([, g]) => g.detach().requiresGrad_());
  const outC = f(...cpuIn);
  const outG = f(...gpuIn);
  await expectSame(outG, outC, rel);
  const w = tensor(values(outC.size)).reshape(outC.shape);
  outC.mul(w).sum().backward();
  outG.mul(w.to("webgpu")).sum().backward();
  for (let i = 0; i < cpuIn.length; i++) await expectSame(gpuIn[i].grad!, cpuIn[i].grad!, rel, 1e-4);
}

const odd = () => [randInt(1, 5), randInt(1, 70)];
const unaryShapes = () => [[1000], [257], [3, 1], odd()];
const binaryShapes: Array<[number[], number[]]> = [
  [[4, 3], [3]],
  [[2, 1, 5], [3, 1]],
  [[1], [300]],
  [[], [2, 2]],
  [[513], [513]],
];
type Check = () => Promise<void>;
const unaryCheck = (f: (x: Any) => Any, kind: "any" | "positive"): Check => async () => {
  for (const shape of unaryShapes()) await sameWithGrads(f, [shape], kind);
};
const binaryCheck = (f: (a: Any, b: Any) => Any, kind: "any" | "positive" = "any"): Check => async () => {
  for (const [a, b] of binaryShapes) await sameWithGrads(f, [a, b], kind);
};
const onBoth = (f: (x: Any) => Any, shape = [5, 7]): Check => async () => {
  const [c, g] = pair(shape);
  await expectSame(f(g), f(c));
};
/** An in-place op on a GPU tensor and on its CPU twin leaves the same values. */
const inPlace = (f: (x: Any) => void): Check => async () => {
  const [c, g] = pair([4, 3]);
  f(c);
  f(g);
  await expectSame(g, c);
};

/** Checks for each op beyond the ones its table entry gives (elementwise ops). */
const CASES: Partial<Record<OpName, Check[]>> = {
  div: [binaryCheck((a, b) => a.div(b.abs().add(0.5)))],
  pow: [unaryCheck((x) => x.pow(3), "any"), unaryCheck((x) => x.pow(0.5), "positive"), binaryCheck((a, b) => a.abs().add(0.1).pow(b))],
  where: [binaryCheck((a, b) => where(a.gt(b), a, b.mul(2)))],

  lt: [onBoth((x) => x.lt(0.25))],
  le: [onBoth((x) => x.le(0.5))],
  gt: [onBoth((x) => x.gt(0)), onBoth((x) => x.gt(0).int())],
  ge: [onBoth((x) => x.ge(x.T.T))],
  eq: [onBoth((x) => x.eq(x))],
  ne: [onBoth((x) => x.ne(0))],

  sum: [
    async () => {
      for (const f of [(x: Any) => x.sum(), (x: Any) => x.sum(0), (x: Any) => x.sum(1, true), (x: Any) => x.sum([0, 2])]) await sameWithGrads(f, [[3, 70, 5]]);
      // a reduction long enough to need several passes
      const big = tensor(values(1_000_003));
      expect(Math.abs((await big.to("webgpu").sum().item()) - big.double().sum().item())).toBeLessThan(0.5);
    },
  ],
  mean: [async () => (await sameWithGrads((x) => x.mean(), [[3, 70, 5]]), await sameWithGrads((x) => x.mean(-1), [[3, 70, 5]]))],
  max: [
    async () => {
      await sameWithGrads((x) => x.max(1), [[3, 70, 5]]);
      const big = tensor(values(1_000_003));
      await expectSame(big.to("webgpu").max(), big.max());
    },
  ],
  min: [async () => sameWithGrads((x) => x.min(), [[3, 70, 5]])],
  norm: [async () => sameWithGrads((x) => x.norm(), [[3, 70, 5]])],
  softmax: [async () => sameWithGrads((x) => x.softmax(1), [[3, 70, 5]])],
  logSoftmax: [async () => sameWithGrads((x) => x.logSoftmax(2), [[3, 70, 5]])],
  argmax: [onBoth((x) => x.argmax(1), [6, 301])],
  argmin: [onBoth((x) => x.argmin(0), [6, 301])],

  dot: [async () => sameWithGrads((a, b) => a.dot(b), [[300], [300]], "any", 1e-3)],
  matmul: [
    async () => {
      await sameWithGrads((a, b) => a.matmul(b), [[65, 130], [130, 33]], "any", 1e-3);
      await sameWithGrads((a, b) => a.matmul(b), [[2, 3, 70], [70, 5]], "any", 1e-3);
      await sameWithGrads((a, b) => a.matmul(b), [[2, 5, 4], [2, 4, 3]], "any", 1e-3);
      await sameWithGrads((a, b) => a.matmul(b), [[7], [7, 2]], "any", 1e-3);
    },
  ],

  transpose: [async () => sameWithGrads((x) => x.transpose(0, 2), [[2, 3, 4]])],
  permute: [async () => sameWithGrads((x) => x.permute(1, 2, 0).reshape(4, -1), [[2, 3, 4]])],
  reshape: [async () => sameWithGrads((x) => x.reshape(3, 2, 4).exp(), [[2, 3, 4]])],
  view: [async () => sameWithGrads((x) => x.view(-1).mul(x.view(24)), [[2, 3, 4]])],
  flatten: [async () => sameWithGrads((x) => x.flatten().exp(), [[2, 3, 4]])],
  T: [async () => sameWithGrads((x) => x.T.mul(2), [[5, 7]])],
  squeeze: [async () => sameWithGrads((x) => x.squeeze(1).exp(), [[5, 1, 3]])],
  unsqueeze: [async () => sameWithGrads((x) => x.unsqueeze(0).mul(x.unsqueeze(1)), [[6]])],
  expand: [async () => sameWithGrads((x) => x.expand(3, 4, 5), [[4, 1]])],
  index: [async () => (await sameWithGrads((x) => x.index("::-1", "1:4"), [[5, 6]]), await sameWithGrads((x) => x.index(2), [[5, 6]]))],
  gather: [
    async () => {
      const index = tensor([[0, 2], [1, 1], [2, 0]], { dtype: "int32" });
      const [c, g] = pair([3, 3]);
      await expectSame(g.gather(1, index.to("webgpu")), c.gather(1, index));
      await sameWithGrads((x) => x.gather(1, index.to(x.device)), [[3, 3]]);
    },
  ],
  cat: [async () => sameWithGrads((a, b) => cat([a, b], 1), [[2, 3], [2, 5]])],
  stack: [async () => sameWithGrads((a, b) => stack([a, b]), [[4], [4]])],

  crossEntropy: [
    async () => {
      const labels = tensor([0, 2, 1, 2, 0], { dtype: "int32" });
      await sameWithGrads((x) => crossEntropy(x, labels.to(x.device)), [[5, 3]]);
    },
  ],
  mseLoss: [async () => sameWithGrads((a, b) => mseLoss(a, b), [[6, 2], [6, 2]])],

  clone: [async () => sameWithGrads((x) => x.clone().mul(x), [[5, 7]])],
  to: [onBoth((x) => x.to("int32")), async () => expect((tensor([1]).to("webgpu") as Any).device).toBe("webgpu")],
  float: [onBoth((x) => x.int().float())],
  int: [onBoth((x) => x.mul(3).int())],
  double: [async () => expect(() => pair([2])[1].double()).toThrow("float64 is not supported on webgpu")],
  detach: [
    async () => {
      const [, g] = pair([3]);
      const x = g.detach().requiresGrad_();
      x.mul(x.detach()).sum().backward();
      await expectSame(x.grad!, await x.cpu());
    },
  ],

  zero_: [inPlace((x) => x.zero_())],
  fill_: [inPlace((x) => x.fill_(2.5)), inPlace((x) => x.index(":", "1:").fill_(3))],
  add_: [inPlace((x) => x.add_(x.mul(2))), inPlace((x) => x.T.index("::2").add_(1))],
  sub_: [inPlace((x) => x.sub_(1))],
  mul_: [inPlace((x) => x.mul_(x))],
  copy_: [inPlace((x) => x.copy_(x.index(0).neg()))],

  data: [async () => expect(Array.from(await tensor([1, 2.5, -3], { device: "webgpu" }).data())).toEqual([1, 2.5, -3])],
  toArray: [async () => expect(await tensor([[1, 2], [3, 4]], { device: "webgpu" }).toArray()).toEqual([[1, 2], [3, 4]])],
  item: [async () => expect(await tensor([[1, 2], [3, 4]], { device: "webgpu" }).sum().item()).toBe(10)],
  equal: [
    async () => {
      const [c, g] = pair([3, 4]);
      expect(await g.equal(g.mul(1))).toBe(true);
      expect(await g.equal(g.add(1))).toBe(c.equal(c.add(1)));
      expect(await g.equal(g.T)).toBe(false);
    },
  ],
  allclose: [
    async () => {
      const [c, g] = pair([3, 4]);
      expect(await g.allclose(g.add(1e-7))).toBe(c.allclose(c.add(1e-7)));
      expect(await g.allclose(g.add(1e-2))).toBe(false);
    },
  ],
  cpu: [
    async () => {
      const back = await tensor([[1, 2], [3, 4]], { device: "webgpu" }).cpu();
      expect(back.device).toBe("cpu");
      expect(back.toArray()).toEqual([[1, 2], [3, 4]]);
    },
  ],
  toString: [
    async () =>
      expect(String(zeros([2, 3], { device: "webgpu" }))).toBe(
        'tensor(<shape [2, 3], float32, on webgpu: await t.cpu() or await t.toArray() to read it>, device="webgpu")',
      ),
  ],
  backward: [async () => sameWithGrads((x) => x.exp().sum(), [[4]])],
  dispose: [
    async () => {
      const t = tensor([1, 2], { device: "webgpu" });
      const before = liveBufferCount();
      t.dispose();
      expect(liveBufferCount()).toBe(before - 1);
      expect(() => t.add(1)).toThrow(/memory was freed by tidy\(\) or dispose\(\)/);
    },
  ],
};

/** An elementwise op's own check, made from its table entry. */
function fromEntry(name: string, e: OpEntry): Check[] {
  if (e.kind !== "elementwise" || e.arity === undefined) return [];
  const kind = e.domain === "positive" ? "positive" : "any";
  if (e.arity === 1) return [unaryCheck((x) => (x as unknown as Record<string, () => Any>)[name](), kind)];
  return [binaryCheck((a, b) => (a as unknown as Record<string, (o: Any) => Any>)[name](b), kind)];
}

describe.runIf(available)("webgpu matches the cpu backend for every op in the op table", () => {
  const needed = (Object.entries(opTable) as Array<[OpName, OpEntry]>).filter(([, e]) => CHECKS[e.kind].includes("webgpu"));
  for (const [name, entry] of needed) {
    it(name, async () => {
      const checks = [...fromEntry(name, entry), ...(CASES[name] ?? [])];
      if (checks.length === 0) throw new Error(`${name} has no WebGPU check: add one to CASES in test/webgpu.test.ts`);
      for (const check of checks) await check();
    });
  }
  it("has no cases for ops that are not in the table", () => {
    expect(Object.keys(CASES).filter((n) => !(n in opTable))).toEqual([]);
  });

  it("an optimizer step gives the CPU's numbers", async () => {
    for (const make of [
      (ps: Any[]) => new optim.SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 }),
      (ps: Any[]) => new optim.Adam(ps, { lr: 0.05 }),
    ]) {
      const [c, g] = pair([4, 3]);
      const pc = c.detach().requiresGrad_();
      const pg = g.detach().requiresGrad_();
      const oc = make([pc]);
      const og = make([pg]);
      for (let i = 0; i < 3; i++) {
        for (const [p, o] of [[pc, oc], [pg, og]] as const) {
          o.zeroGrad();
          p.mul(p).sum().backward();
          o.step();
        }
      }
      await expectSame(pg, pc);
    }
  });
});

describe.runIf(available)("the function transforms on webgpu match the cpu", () => {
  // (float32: the GPU has no float64)
  const [Xc, Xg] = pair([6, 4]);
  const [yc, yg] = pair([6]);
  const loss = (X: Any, y: Any) => (w: Any) => y.sign().neg().mul(X.matmul(w)).exp().log1p().mean();
  const net = (X: Any) => (w: Any) => X.matmul(w).tanh().softmax(0);
  const [wc, wg] = pair([4]);
  const [vc, vg] = pair([4]);
  it("grad, hessian (forward over reverse) and jacrev(jacrev)", async () => {
    await expectSame(grad(loss(Xg, yg))(wg), grad(loss(Xc, yc))(wc));
    await expectSame(hessian(loss(Xg, yg))(wg), hessian(loss(Xc, yc))(wc));
    await expectSame(jacrev(jacrev(loss(Xg, yg)))(wg), hessian(loss(Xc, yc))(wc));
  });
  it("jvp, jacfwd, jacrev and hvp", async () => {
    const [outG, tG] = jvp(net(Xg), [wg], [vg]);
    const [outC, tC] = jvp(net(Xc), [wc], [vc]);
    await expectSame(outG, outC);
    await expectSame(tG, tC);
    await expectSame(jacfwd(net(Xg))(wg), jacrev(net(Xc))(wc));
    await expectSame(jacrev(net(Xg))(wg), jacrev(net(Xc))(wc));
    const [valueG, hvG] = hvp(loss(Xg, yg), wg, vg);
    const [valueC, hvC] = hvp(loss(Xc, yc), wc, vc);
    await expectSame(valueG, valueC);
    await expectSame(hvG, hvC);
  });
  it("backward({ createGraph }) twice", async () => {
    const results = await Promise.all(
      [[Xc, yc, wc], [Xg, yg, wg]].map(async ([X, y, w0]) => {
        const w = (w0 as Any).detach().requiresGrad_();
        loss(X as Any, y as Any)(w).backward({ createGraph: true });
        const g = w.grad!;
        w.grad = null;
        g.mul(g).sum().backward();
        return w.grad!;
      }),
    );
    await expectSame(results[1], results[0]);
  });
  it("gradcheck says where float64 is missing", () => {
    expect(() => gradcheck((w: Any) => w.exp(), [wg.detach().requiresGrad_()])).toThrow("gradcheck: input 0 is float32; finite differences need float64 to be meaningful");
    expect(() => gradcheck((w: Any) => w.exp(), [wg.detach().requiresGrad_()])).toThrow("and webgpu has no float64: check on the CPU");
  });
});

describe.runIf(available)("webgpu tensors", () => {
  it("print their shape and device without reading", () => {
    expect(String(zeros([2, 3], { device: "webgpu" }))).toBe(
      'tensor(<shape [2, 3], float32, on webgpu: await t.cpu() or await t.toArray() to read it>, device="webgpu")',
    );
  });

  it("read back asynchronously", async () => {
    const t = tensor([[1, 2], [3, 4]], { device: "webgpu" });
    expect(await t.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(await t.sum().item()).toBe(10);
    const back = await t.cpu();
    expect(back.device).toBe("cpu");
    expect(back.toArray()).toEqual([[1, 2], [3, 4]]);
  });

  it("refuse to mix devices and float64", () => {
    const g = tensor([1, 2], { device: "webgpu" });
    expect(() => g.add(tensor([1, 2]) as unknown as Tensor<"webgpu">)).toThrow(
      'add: tensors are on different devices (webgpu and cpu); move one with .to("webgpu")',
    );
    expect(() => tensor([1], { device: "webgpu", dtype: "float64" })).toThrow("float64 is not supported on webgpu");
    expect(() => g.to("cpu")).toThrow("to: reading from webgpu is asynchronous: use await t.cpu()");
  });

  it("an in-place change to a saved tensor is still detected", () => {
    const x = tensor([1, 2, 3], { device: "webgpu", requiresGrad: true });
    const y = x.mul(2);
    const z = y.mul(y);
    y.detach().add_(1);
    expect(() => z.sum().backward()).toThrow(/modified by an in-place operation/);
  });

  it("a model moves to the GPU and trains there", async () => {
    const model = new nn.Sequential(new nn.Linear(3, 8), new nn.Tanh(), new nn.Linear(8, 2)).to("webgpu");
    expect(model.parameters().every((p) => p.device === "webgpu")).toBe(true);
    const X = tensor([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], { device: "webgpu" });
    const y = tensor([0, 1, 1, 0], { dtype: "int32", device: "webgpu" });
    const opt = new optim.Adam(model.parameters(), { lr: 0.05 });
    for (let i = 0; i < 300; i++) {
      tidy(() => {
        opt.zeroGrad();
        crossEntropy(model.forward(X), y).backward();
        opt.step();
      });
    }
    expect(await model.forward(X).argmax(1).toArray()).toEqual([0, 1, 1, 0]);
  });

  it("keeps the live buffer count flat over 10,000 training steps", async () => {
    const x = tensor(values(64)).to("webgpu");
    const y = x.mul(5).sub(3);
    const w0 = zeros([], { device: "webgpu", requiresGrad: true });
    const w1 = zeros([], { device: "webgpu", requiresGrad: true });
    const opt = new optim.SGD([w0, w1], { lr: 0.1, momentum: 0.5 });
    const counts: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      tidy(() => {
        opt.zeroGrad();
        mseLoss(w1.mul(x).add(w0), y).backward();
        opt.step();
      });
      if (i === 99 || i === 9_999) counts.push(liveBufferCount());
    }
    expect(counts[1]).toBeLessThanOrEqual(counts[0]);
    expect(await w1.item()).toBeCloseTo(5, 3);
    expect(await w0.item()).toBeCloseTo(-3, 3);
  }, 300_000);
});
