import { describe, expect, it } from "vitest";
import { keep, liveCount, noGrad, optim, tensor, tidy, zeros } from "kernel-lib";

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
