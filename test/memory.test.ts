import { describe, expect, it } from "vitest";
import { cpuMemory, keep, liveCount, noGrad, optim, tensor, tidy, zeros } from "kernel-lib";

// The engine's memory scopes, on the CPU (the WebGPU tests run the same on the GPU).

describe("memory scopes on the CPU", () => {
  it("tidy frees what the callback made, except what it returns", () => {
    const before = liveCount("cpu");
    let inner: ReturnType<typeof tensor> | null = null;
    const out = tidy(() => {
      inner = tensor([1, 2, 3]).mul(2);
      return inner.add(1);
    });
    expect(out.toArray()).toEqual([3, 5, 7]);
    expect(() => inner!.toArray()).toThrow("this tensor's memory was freed by tidy() or dispose()");
    // `out` is alive; what else the callback made is not
    expect(liveCount("cpu")).toBeLessThanOrEqual(before + 1);
  });

  it("keeps tensors made before the scope, their in-place updates and the gradients stored into them", () => {
    const train = (scoped: boolean) => {
      const w = zeros([3], { requiresGrad: true });
      const opt = new optim.SGD([w], { lr: 0.1, momentum: 0.9 });
      let seen: unknown = null;
      for (let i = 0; i < 3; i++) {
        const step = () => {
          opt.zeroGrad();
          w.sub(tensor([1, 2, 3])).pow(2).sum().backward();
          seen = w.grad!.toArray();
          opt.step();
        };
        if (scoped) tidy(step);
        else step();
      }
      return { w: w.toArray(), grad: w.grad!.toArray(), seen };
    };
    const scoped = train(true);
    expect(scoped.grad).toEqual(scoped.seen); // the gradient outlives the scope it was made in
    expect(scoped).toEqual(train(false)); // and so do the parameters and the momentum
  });

  it("keep() takes a tensor out of every scope; nested scopes hand results outwards", () => {
    let kept: ReturnType<typeof tensor> | null = null;
    const outer = tidy(() => {
      const middle = tidy(() => {
        kept = keep(tensor([4, 5]));
        return tensor([6]);
      });
      return middle.add(1);
    });
    expect(kept!.toArray()).toEqual([4, 5]);
    expect(outer.toArray()).toEqual([7]);
  });

  it("a result held in an array or object survives, with its gradient", () => {
    const { a, b } = tidy(() => {
      const x = tensor([1, 2], { requiresGrad: true });
      x.mul(x).sum().backward();
      return { a: [x], b: x.detach().mul(3) };
    });
    expect(a[0].grad!.toArray()).toEqual([2, 4]);
    expect(b.toArray()).toEqual([3, 6]);
  });

  it("dispose() frees at once and counts down; a second dispose is harmless", () => {
    const t = tensor([1, 2]);
    const before = liveCount("cpu");
    t.dispose();
    expect(liveCount("cpu")).toBe(before - 1);
    t.dispose();
    expect(liveCount("cpu")).toBe(before - 1);
    expect(() => t.add(1)).toThrow("memory was freed");
  });

  it("refuses an async callback instead of freeing memory still in use", async () => {
    const x = tensor([1]);
    expect(() => tidy(async () => x.add(1))).toThrow("tidy: the callback returned a promise");
    expect(x.toArray()).toEqual([1]);
  });

  it("frees what a failing callback made and rethrows", () => {
    let made: ReturnType<typeof tensor> | null = null;
    expect(() =>
      tidy(() => {
        made = tensor([1]);
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(() => made!.item()).toThrow("memory was freed");
  });

  it("noGrad inside tidy, and tidy inside noGrad, both work", () => {
    const y = noGrad(() => tidy(() => tensor([1, 2]).mul(2)));
    expect(y.toArray()).toEqual([2, 4]);
  });
});

// Large float32 tensors live in the WebAssembly memory the CPU kernels use
// (kernel-lib/src/backend/cpu/arena.ts). These count bytes, not time.
describe("the CPU's WebAssembly memory", () => {
  const N = 4096; // the arena's smallest tensor
  const xs = Float32Array.from({ length: N }, (_, i) => i / (N - 1));
  const x = tensor(xs);
  const y = tensor(xs.map((v, i) => 5 * v - 3 + Math.sin(i)));
  const train = () => {
    const w0 = zeros([], { requiresGrad: true });
    const w1 = zeros([], { requiresGrad: true });
    const opt = new optim.SGD([w0, w1], { lr: 0.5 });
    const step = () => {
      opt.zeroGrad();
      w1.mul(x).add(w0).sub(y).pow(2).mean().backward();
      opt.step();
    };
    return { w0, w1, step };
  };

  it("in tidy(), a training step copies no tensor in or out of it and its memory does not grow", () => {
    const { w1, step } = train();
    for (let i = 0; i < 50; i++) tidy(step);
    const before = cpuMemory();
    const steps = 2000;
    for (let i = 0; i < steps; i++) tidy(step);
    const after = cpuMemory();
    expect(after.memoryBytes).toBe(before.memoryBytes);
    expect(after.evictedTensors).toBe(before.evictedTensors);
    expect(after.residentBytes).toBe(before.residentBytes);
    // scratch only for the two scalar parameters, which are too small to live there (64 bytes each, a few times a step)
    expect((after.scratchBytes - before.scratchBytes) / steps).toBeLessThan(1024);
    expect(w1.item()).toBeCloseTo(5, 0);
  });

  it("without tidy(), 100,000 steps store no tensor of N values: the step's chains are fused, and backward() frees its own", () => {
    const { w0, w1, step } = train();
    for (let i = 0; i < 5000; i++) step();
    const early = cpuMemory();
    for (let i = 0; i < 95_000; i++) step();
    const late = cpuMemory();
    expect(late.memoryBytes).toBe(early.memoryBytes);
    expect(late.residentBytes).toBe(early.residentBytes);
    expect(late.evictedTensors).toBe(early.evictedTensors);
    expect(w0.item()).toBeCloseTo(-3, 0);
    expect(w1.item()).toBeCloseTo(5, 0);
  });

  it("without tidy(), a step that drops a stored tensor stays within the budget: the oldest are evicted, never lost", () => {
    const { w0, w1, step } = train();
    let worst = 0;
    const watched = () => {
      step();
      // the largest residual, as a student might log it: max() needs the residuals stored, and each step drops them
      worst = w1.mul(x).add(w0).sub(y).abs().max().item();
    };
    // (the 64 MiB budget fills with 16 KiB tensors within the first 4,100 steps)
    for (let i = 0; i < 5000; i++) watched();
    const early = cpuMemory();
    expect(early.residentBytes).toBeGreaterThan(0.9 * early.budgetBytes);
    for (let i = 0; i < 20_000; i++) watched();
    const late = cpuMemory();
    expect(late.memoryBytes).toBe(early.memoryBytes);
    expect(late.memoryBytes).toBeLessThanOrEqual(late.budgetBytes + 16 * 2 ** 20);
    expect(late.residentBytes).toBeLessThanOrEqual(late.budgetBytes);
    // past the budget each dropped tensor is evicted (copied out), oldest first
    expect(late.evictedTensors - early.evictedTensors).toBeGreaterThan(19_000);
    // and the data the loop keeps using (x, y) comes back whenever it was evicted: the fit is right
    expect(w0.item()).toBeCloseTo(-3, 0);
    expect(w1.item()).toBeCloseTo(5, 0);
    expect(worst).toBeLessThan(1.1);
  });

  it("an evicted tensor keeps its values, and a freed one says so", () => {
    const keepMe = tensor(Float32Array.from({ length: N }, (_, i) => i));
    const sum0 = keepMe.sum().item();
    // push it out with more than the budget of new tensors
    const budget = cpuMemory().budgetBytes;
    const before = cpuMemory().evictedTensors;
    for (let made = 0; made < 2 * budget; made += 4 * 1_000_000) tensor(new Float32Array(1_000_000)).add(1);
    expect(cpuMemory().evictedTensors).toBeGreaterThan(before);
    expect(keepMe.sum().item()).toBe(sum0);
    expect(keepMe.index(N - 1).item()).toBe(N - 1);
    keepMe.dispose();
    expect(() => keepMe.sum()).toThrow("memory was freed");
  });
});
