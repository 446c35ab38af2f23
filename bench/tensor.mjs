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

/**
 * W3: linear regression on N float32 points, SGD lr 0.1; ms per step (median
 * of 3 runs). With `tidy`, each step runs in tidy() as the tfjs peer's does,
 * so its tensors' memory is reused at once; without, as PyTorch code is written.
 */
export function w3(n, steps, { tidy = false } = {}) {
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
    const step = () => {
      opt.zeroGrad();
      w1.mul(x).add(w0).sub(y).pow(2).mean().backward();
      opt.step();
    };
    for (let i = 0; i < count; i++) tidy ? k.tidy(step) : step();
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

/** W4: MLP 784-H-10, cross-entropy, SGD lr 0.1; ms per step (median); `tidy` as in w3. */
export function w4(batch, hidden, { tidy = false, steps = 20 } = {}) {
  k.manualSeed(0);
  const X = k.randn(batch, 784);
  const labels = k.randint(0, 10, [batch]);
  const model = new k.nn.Sequential(new k.nn.Linear(784, hidden), new k.nn.ReLU(), new k.nn.Linear(hidden, 10));
  const opt = new k.optim.SGD(model.parameters(), { lr: 0.1 });
  const plain = () => {
    opt.zeroGrad();
    const loss = k.crossEntropy(model.forward(X), labels);
    loss.backward();
    opt.step();
    return loss;
  };
  const step = tidy ? () => k.tidy(plain) : plain;
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

/** Time `fn` as the W7 peer does: 2 warm-up calls, k calls per repetition (>= ~0.2 s), 5 repetitions; ms per call. */
function timePerCall(fn) {
  fn();
  fn();
  let t = performance.now();
  fn();
  const one = performance.now() - t;
  const k = Math.max(1, Math.floor(200 / Math.max(one, 1e-6)));
  const reps = [];
  for (let r = 0; r < 5; r++) {
    t = performance.now();
    for (let i = 0; i < k; i++) fn();
    reps.push((performance.now() - t) / k);
  }
  return median(reps);
}

/**
 * W7: the logistic-regression loss f(w) = mean(softplus(-y * (X @ w))) on
 * X [N, D], y, w (float32 arrays, the peer's data when given): ms per
 * hessian(f)(w), per hvp(f, w, v) with v = ones(D) / sqrt(D), and per
 * gradient; with H[0][0], H[0][1] and the first Hv entry.
 */
export function w7(n, d, data) {
  const X = k.tensor(data.X).reshape(n, d);
  const y = k.tensor(data.y);
  const w = k.tensor(data.w);
  const v = k.full([d], 1 / Math.sqrt(d));
  const f = (w_) => y.neg().mul(X.matmul(w_)).exp().log1p().mean();
  const H = k.hessian(f)(w);
  const [, hv] = k.hvp(f, w, v);
  const Hd = H.data();
  const gradOnce = () => {
    const w_ = w.clone().requiresGrad_();
    f(w_).backward();
    return w_.grad;
  };
  return {
    hessianMs: timePerCall(() => k.hessian(f)(w)),
    hvpMs: timePerCall(() => k.hvp(f, w, v)),
    gradMs: timePerCall(gradOnce),
    H00: Hd[0],
    H01: Hd[1],
    hvp0: hv.data()[0],
  };
}

/**
 * Forward mode against a backward pass on W4's MLP (784-H-10, cross-entropy,
 * batch B), as a function of the first layer's weights: ms per forward pass,
 * per forward + backward, and per jvp (the loss and its derivative along a
 * random direction of the weights, in one forward pass).
 */
export function w4jvp(batch, hidden) {
  k.manualSeed(0);
  const X = k.randn(batch, 784);
  const labels = k.randint(0, 10, [batch]);
  const W1 = k.randn(hidden, 784).mul(0.03);
  const b1 = k.zeros(hidden);
  const W2 = k.randn(10, hidden).mul(0.1);
  const b2 = k.zeros(10);
  const T = k.randn(hidden, 784);
  const loss = (w1) => k.crossEntropy(X.matmul(w1.T).add(b1).relu().matmul(W2.T).add(b2), labels);
  const backward = () => {
    const w1 = W1.detach().requiresGrad_();
    loss(w1).backward();
    return w1.grad;
  };
  return {
    forwardMs: timePerCall(() => loss(W1)),
    backwardMs: timePerCall(backward),
    jvpMs: timePerCall(() => k.jvp(loss, [W1], [T])),
  };
}
