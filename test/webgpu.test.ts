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
  type Device,
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

describe.runIf(available)("webgpu matches the cpu backend", () => {
  it("unary ops with gradients, sizes that are not multiples of the workgroup", async () => {
    const ops: Array<[(x: Any) => Any, "any" | "positive"]> = [
      [(x) => x.neg(), "any"],
      [(x) => x.exp(), "any"],
      [(x) => x.log(), "positive"],
      [(x) => x.sqrt(), "positive"],
      [(x) => x.abs(), "any"],
      [(x) => x.tanh(), "any"],
      [(x) => x.sigmoid(), "any"],
      [(x) => x.relu(), "any"],
      [(x) => x.pow(3), "any"],
      [(x) => x.pow(0.5), "positive"],
    ];
    for (const [f, kind] of ops) {
      for (const shape of [[1000], [257], [3, 1], odd()]) await sameWithGrads(f, [shape], kind);
    }
  });

  it("binary ops with broadcasting and their gradients", async () => {
    const ops: Array<(a: Any, b: Any) => Any> = [
      (a, b) => a.add(b),
      (a, b) => a.sub(b),
      (a, b) => a.mul(b),
      (a, b) => a.div(b.abs().add(0.5)),
      (a, b) => a.abs().add(0.1).pow(b),
      (a, b) => a.maximum(b),
      (a, b) => a.minimum(b),
      (a, b) => where(a.gt(b), a, b.mul(2)),
    ];
    const shapes: Array<[number[], number[]]> = [
      [[4, 3], [3]],
      [[2, 1, 5], [3, 1]],
      [[1], [300]],
      [[], [2, 2]],
      [[513], [513]],
    ];
    for (const f of ops) for (const [a, b] of shapes) await sameWithGrads(f, [a, b]);
  });

  it("comparisons and casts", async () => {
    const [c, g] = pair([5, 7]);
    for (const f of [(x: Any) => x.gt(0), (x: Any) => x.le(0.5), (x: Any) => x.eq(x), (x: Any) => x.ne(0)]) await expectSame(f(g), f(c));
    await expectSame(g.gt(0).int(), c.gt(0).int());
    await expectSame(g.mul(3).int(), c.mul(3).int());
  });

  it("reductions over all, dims and keepdim, argmax and large inputs", async () => {
    const fs: Array<(x: Any) => Any> = [
      (x) => x.sum(),
      (x) => x.mean(),
      (x) => x.sum(0),
      (x) => x.sum(1, true),
      (x) => x.sum([0, 2]),
      (x) => x.mean(-1),
      (x) => x.max(1),
      (x) => x.min(),
      (x) => x.softmax(1),
      (x) => x.logSoftmax(2),
      (x) => x.norm(),
    ];
    for (const f of fs) await sameWithGrads(f, [[3, 70, 5]]);
    const [c, g] = pair([6, 301]);
    await expectSame(g.argmax(1), c.argmax(1));
    await expectSame(g.argmin(0), c.argmin(0));
    // a reduction long enough to need several passes
    const big = tensor(values(1_000_003));
    expect(Math.abs((await big.to("webgpu").sum().item()) - big.double().sum().item())).toBeLessThan(0.5);
    await expectSame(big.to("webgpu").max(), big.max());
  });

  it("matmul with odd sizes, batches and gradients", async () => {
    await sameWithGrads((a, b) => a.matmul(b), [[65, 130], [130, 33]], "any", 1e-3);
    await sameWithGrads((a, b) => a.matmul(b), [[2, 3, 70], [70, 5]], "any", 1e-3);
    await sameWithGrads((a, b) => a.matmul(b), [[2, 5, 4], [2, 4, 3]], "any", 1e-3);
    await sameWithGrads((a, b) => a.matmul(b), [[7], [7, 2]], "any", 1e-3);
  });

  it("movement, indexing, gather, cat and stack with gradients", async () => {
    await sameWithGrads((x) => x.transpose(0, 2), [[2, 3, 4]]);
    await sameWithGrads((x) => x.permute(1, 2, 0).reshape(4, -1), [[2, 3, 4]]);
    await sameWithGrads((x) => x.expand(3, 4, 5), [[4, 1]]);
    await sameWithGrads((x) => x.index("::-1", "1:4"), [[5, 6]]);
    await sameWithGrads((x) => x.index(2), [[5, 6]]);
    const index = tensor([[0, 2], [1, 1], [2, 0]], { dtype: "int32" });
    const [c, g] = pair([3, 3]);
    await expectSame(g.gather(1, index.to("webgpu")), c.gather(1, index));
    await sameWithGrads((a, b) => cat([a, b], 1), [[2, 3], [2, 5]]);
    await sameWithGrads((a, b) => stack([a, b]), [[4], [4]]);
  });

  it("losses and an optimizer step give the CPU's numbers", async () => {
    const labels = tensor([0, 2, 1, 2, 0], { dtype: "int32" });
    await sameWithGrads((x) => crossEntropy(x, labels.to(x.device)), [[5, 3]]);
    await sameWithGrads((a, b) => mseLoss(a, b), [[6, 2], [6, 2]]);
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
