import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { cpuMemory, liveCount, noGrad, tensor, tidy } from "kernel-lib";

// Large float32 elementwise results wait, and chains of them run as one pass
// over memory when something needs the values (kernel-lib/src/tensor/engine.ts,
// "fusion"). The values must be those of the ops run one at a time, bit for
// bit: the battery runs with fusion on and with KERNEL_LIB_FUSE=0, on the CPU
// and on WebGPU.
const battery = path.join(__dirname, "fixtures", "fusion", "battery.cjs");

function run(device: string, fuse: boolean): Record<string, number | number[]> {
  const env = { ...process.env, KERNEL_LIB_FUSE: fuse ? "1" : "0" };
  const r = spawnSync(process.execPath, [battery, device], { encoding: "utf8", env, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`battery on ${device} (fusion ${fuse ? "on" : "off"}) failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, number | number[]>;
}

function sameBits(fused: Record<string, number | number[]>, plain: Record<string, number | number[]>): void {
  for (const key of Object.keys(plain)) {
    if (key === "chainLive") continue;
    const [f, p] = [fused[key] as number[], plain[key] as number[]];
    expect(f.length, key).toBe(p.length);
    const first = p.findIndex((v, i) => v !== f[i]);
    if (first >= 0) throw new Error(`${key}: element ${first} differs with fusion (bits ${f[first].toString(16)} against ${p[first].toString(16)})`);
  }
}

const gpuProbe = spawnSync(process.execPath, ["-e", 'require("kernel-lib").initWebGPU().then(() => console.log("ok"), (e) => console.log(e.message))'], { encoding: "utf8" });
const gpu = gpuProbe.stdout.trim().split("\n").pop() === "ok";

describe("fused elementwise chains", () => {
  it("give the values of the ops one at a time, bit for bit, on the CPU (forward, gradients, broadcasts, row sums, views, NaN)", () => {
    const fused = run("cpu", true);
    const plain = run("cpu", false);
    sameBits(fused, plain);
    // and they were fused: the chain stored nothing until its sum needed it, where the ops one at a time stored three tensors
    expect(fused.chainLive).toBe(0);
    expect(plain.chainLive).toBe(3);
  });

  it.runIf(gpu || process.env.CI === "true")("give the values of the ops one at a time, bit for bit, on WebGPU", () => {
    if (!gpu) throw new Error(`no WebGPU adapter in CI: ${gpuProbe.stdout}${gpuProbe.stderr}`);
    const fused = run("webgpu", true);
    const plain = run("webgpu", false);
    sameBits(fused, plain);
    expect(fused.chainLive).toBe(0);
    expect(plain.chainLive).toBe(3);
  });

  const N = 5000;
  const values = (f: (i: number) => number) => Float32Array.from({ length: N }, (_, i) => f(i));

  it("a pending result keeps the values its inputs had, when one is then written in place or freed", () => {
    const x = tensor(values((i) => i));
    const doubled = x.mul(2);
    noGrad(() => x.add_(1));
    expect(doubled.index(10).item()).toBe(20);
    expect(x.index(10).item()).toBe(11);
    const a = tensor(values((i) => i % 7));
    const tripled = a.mul(3).add(1);
    a.dispose();
    expect(tripled.index(9).item()).toBe(7);
  });

  it("what tidy() returns is computed before the scope frees its inputs; what it drops is freed", () => {
    const x = tensor(values((i) => i / N));
    let dropped = x;
    const kept = tidy(() => {
      const inner = x.exp(); // made in the scope, and an input of the result
      dropped = inner.add(1);
      return inner.mul(2).sub(x);
    });
    expect(kept.index(N - 1).item()).toBeCloseTo(2 * Math.exp((N - 1) / N) - (N - 1) / N, 5);
    expect(() => dropped.sum()).toThrow("memory was freed");
    const live = liveCount("cpu");
    tidy(() => {
      x.mul(3).add(1).relu().sum();
    });
    expect(liveCount("cpu")).toBe(live);
  });

  it("a pending result used twice, viewed, or summed gives the same values each time", () => {
    const x = tensor(values((i) => Math.sin(i)));
    const y = x.mul(x).sub(0.25);
    const once = Array.from(y.data() as Float32Array);
    expect(Array.from(y.add(0).data() as Float32Array)).toEqual(once);
    expect(Array.from(y.reshape(50, 100).T.T.reshape(N).data() as Float32Array)).toEqual(once);
    const sum = y.sum().item();
    expect(y.sum().item()).toBe(sum);
    expect(sum).toBeCloseTo(once.reduce((s, v) => s + v, 0), 1);
  });

  it("chains longer than a kernel takes, or with more stored inputs, are split and still right", () => {
    const inputs = Array.from({ length: 9 }, (_, j) => tensor(values((i) => (i % 5) + j)));
    let acc = inputs[0];
    for (let s = 0; s < 40; s++) acc = acc.add(inputs[s % inputs.length]).mul(0.5);
    const got = acc.data() as Float32Array;
    let want = 0;
    const at = 3;
    want = at % 5;
    for (let s = 0; s < 40; s++) want = Math.fround(Math.fround(want + (at % 5) + (s % 9)) * 0.5);
    expect(got[at]).toBe(want);
  });

  it("changing a saved input in place before backward() is still caught", () => {
    const w = tensor(values(() => 0.5), { requiresGrad: true });
    const x = tensor(values((i) => i));
    const loss = w.mul(x).exp().sum();
    noGrad(() => w.mul_(2));
    expect(() => loss.backward()).toThrow(/modified|in place|in-place/);
  });

  it("a training step without tidy() stores no large tensor: its chains are fused and backward() frees its own", () => {
    const x = tensor(values((i) => i / N));
    const y = x.mul(5).sub(3);
    const w = tensor(0, { requiresGrad: true });
    const step = () => {
      w.grad = null;
      w.mul(x).sub(y).pow(2).mean().backward();
    };
    step();
    const before = cpuMemory();
    for (let i = 0; i < 50; i++) step();
    // (large tensors live in the arena: none was stored, so none had to be evicted either)
    expect(cpuMemory().residentBytes).toBe(before.residentBytes);
    expect(cpuMemory().evictedTensors).toBe(before.evictedTensors);
    expect(w.grad!.item()).toBeLessThan(0);
    y.dispose();
  });
});
