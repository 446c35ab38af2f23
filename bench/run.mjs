#!/usr/bin/env node
// `npm run bench`: kernel-lib beside the peer scripts of ../shared/bench/peers,
// each measured in this same invocation, printed as ratios.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const { Variable, Random } = require("kernel-lib");
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const peersDir = process.env.PEERS_DIR ?? path.resolve(root, "..", "shared", "bench", "peers");
const python = "/usr/bin/python3";

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function peer(script, args = []) {
  const file = path.join(peersDir, script);
  if (!existsSync(python) || !existsSync(file)) return { skipped: `${existsSync(file) ? python : file} not found` };
  try {
    const out = execFileSync(python, [file, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return JSON.parse(out.trim().split("\n").pop());
  } catch (e) {
    return { skipped: (e.stderr || e.message).toString().trim().split("\n").pop() };
  }
}

// W1: the lecture's scalar linear regression, graph rebuilt every epoch.
function w1Data() {
  const rng = new Random(42);
  const xs = Array.from({ length: 101 }, (_, i) => 0.01 * i);
  const ys = xs.map((x) => 5 * x - 3 + (2 * rng.random() - 1));
  return { xs, ys };
}
function w1Train({ xs, ys }, epochs) {
  const w0 = new Variable(0);
  const w1 = new Variable(0);
  let loss;
  for (let e = 0; e < epochs; e++) {
    let total = new Variable(0);
    for (let i = 0; i < xs.length; i++) {
      const d = w1.mul(xs[i]).add(w0).sub(ys[i]);
      total = total.add(d.mul(d));
    }
    loss = total.mul(1 / xs.length);
    w0.zeroGrad();
    w1.zeroGrad();
    loss.backward();
    w0.data -= 0.1 * w0.grad;
    w1.data -= 0.1 * w1.grad;
  }
  return { w0: w0.data, w1: w1.data, loss: loss.data };
}
function benchW1() {
  const data = w1Data();
  w1Train(data, 50);
  const times = [];
  let res;
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    res = w1Train(data, 1000);
    times.push((performance.now() - t) / 1000);
  }
  return { seconds: median(times), ...res };
}

// W6: a 4-op scalar graph, forward + backward, tensor creation inside the loop.
function benchW6() {
  const once = () => {
    const x = new Variable(2);
    const y = x.mul(3).add(x.mul(x));
    y.backward();
    return x.grad;
  };
  if (once() !== 7) throw new Error("W6 graph gave the wrong gradient");
  for (let i = 0; i < 100_000; i++) once();
  const reps = [];
  for (let r = 0; r < 5; r++) {
    const n = 200_000;
    const t = performance.now();
    for (let i = 0; i < n; i++) once();
    reps.push(((performance.now() - t) * 1000) / n);
  }
  return median(reps);
}

const fmt = (x, d = 3) => (typeof x === "number" ? x.toFixed(d) : String(x));
console.log(`kernel-lib bench: Node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} x${os.cpus().length}, ${new Date().toISOString()}`);

console.log("\nW1 lecture linear regression, scalar engine (101 points, 1000 epochs, graph rebuilt each epoch)");
const w1 = benchW1();
const w1py = peer("w1_lecture_linreg_scalar.py");
console.log(`  kernel-lib Variable   ${fmt(w1.seconds)} s   final w0=${fmt(w1.w0, 4)} w1=${fmt(w1.w1, 4)}`);
if (w1py.skipped) console.log(`  Python peer          skipped: ${w1py.skipped}`);
else {
  console.log(`  Python peer          ${fmt(w1py.total_seconds_median)} s   final w0=${fmt(w1py.final_w0, 4)} w1=${fmt(w1py.final_w1, 4)}`);
  const agree = Math.abs(w1py.final_w0 - w1.w0) < 1e-9 && Math.abs(w1py.final_w1 - w1.w1) < 1e-9;
  console.log(`  ratio: kernel-lib is ${fmt(w1py.total_seconds_median / w1.seconds, 1)}x faster (target >= 50x); weights ${agree ? "agree" : "DISAGREE"}`);
  if (!agree) process.exitCode = 1;
}

console.log("\nW6 per-op overhead: x = 2; y = x*3 + x*x; backward (creation inside the loop)");
const w6 = benchW6();
const w6torch = peer("w6_tiny_op_overhead_torch.py");
console.log(`  kernel-lib Variable   ${fmt(w6)} us`);
if (w6torch.skipped) console.log(`  PyTorch peer         skipped: ${w6torch.skipped}`);
else {
  const t = w6torch.results.scalar_fb_us;
  console.log(`  PyTorch peer         ${fmt(t)} us (torch ${w6torch.torch})`);
  console.log(`  ratio: kernel-lib is ${fmt(t / w6, 1)}x faster`);
}
