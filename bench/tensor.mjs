// kernel-lib's side of the tensor workloads W3-W6 (see ../shared/bench/peers/README.md).
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const k = require("kernel-lib");

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** W3: linear regression on N float32 points, SGD lr 0.1; ms per step (median of 3 runs). */
export function w3(n, steps) {
  const r = mulberry32(0);
  const xs = new Float32Array(n);
  const ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = i / (n - 1);
    ys[i] = 5 * xs[i] - 3 + (2 * r() - 1);
  }
  const x = k.tensor(xs);
  const y = k.tensor(ys);
  const run = (count) => {
    const w0 = k.zeros([], { requiresGrad: true });
    const w1 = k.zeros([], { requiresGrad: true });
    const opt = new k.optim.SGD([w0, w1], { lr: 0.1 });
    for (let i = 0; i < count; i++) {
      opt.zeroGrad();
      w1.mul(x).add(w0).sub(y).pow(2).mean().backward();
      opt.step();
    }
    return [w0.item(), w1.item()];
  };
  run(10);
  const times = [];
  let w;
  for (let rep = 0; rep < 3; rep++) {
    const t = performance.now();
    w = run(steps);
    times.push((performance.now() - t) / steps);
  }
  return { msPerStep: median(times), steps, w0: w[0], w1: w[1] };
}

/** W4: MLP 784-H-10, cross-entropy, SGD lr 0.1; ms per step (median). */
export function w4(batch, hidden, steps = 20) {
  k.manualSeed(0);
  const X = k.randn(batch, 784);
  const labels = k.randint(0, 10, [batch]);
  const model = new k.nn.Sequential(new k.nn.Linear(784, hidden), new k.nn.ReLU(), new k.nn.Linear(hidden, 10));
  const opt = new k.optim.SGD(model.parameters(), { lr: 0.1 });
  const step = () => {
    opt.zeroGrad();
    const loss = k.crossEntropy(model.forward(X), labels);
    loss.backward();
    opt.step();
    return loss;
  };
  const first = step().item();
  for (let i = 0; i < 4; i++) step();
  const ts = [];
  let last;
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    last = step();
    ts.push(performance.now() - t);
  }
  return { msPerStep: median(ts), lossFirst: first, lossLast: last.item() };
}

/** W5: float32 square matmul; GFLOP/s. */
export function w5(n) {
  k.manualSeed(0);
  const a = k.randn(n, n);
  const b = k.randn(n, n);
  a.matmul(b);
  const reps = Math.max(1, Math.round(2e8 / n ** 3));
  const times = [];
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    for (let i = 0; i < reps; i++) a.matmul(b);
    times.push((performance.now() - t) / reps / 1000);
  }
  return { gflops: (2 * n ** 3) / median(times) / 1e9 };
}

/** W6: add of two 10-element tensors; microseconds per op. */
export function w6add() {
  const a = k.rand(10);
  const b = k.rand(10);
  for (let i = 0; i < 100_000; i++) a.add(b);
  const reps = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < 200_000; i++) a.add(b);
    reps.push(((performance.now() - t) * 1000) / 200_000);
  }
  return median(reps);
}
