#!/usr/bin/env node
// `npm run bench`: kernel-lib beside the peer scripts of ../shared/bench/peers,
// each measured in this same invocation, printed as ratios.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const { Variable, Random } = require("kernel-lib");
const tensorBench = await import("./tensor.mjs");
const { pythonBlas } = await import("./blas.mjs");
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const peersDir = process.env.PEERS_DIR ?? path.resolve(root, "..", "shared", "bench", "peers");
const python = "/usr/bin/python3";

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function runJson(cmd, args, options = {}) {
  try {
    const out = execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 24, ...options });
    return JSON.parse(out.trim().split("\n").pop());
  } catch (e) {
    return { skipped: (e.stderr || e.message).toString().trim().split("\n").pop() };
  }
}

/** The Python peers' BLAS, found once (and its OpenBLAS core set for this CPU). */
let blas;
function pythonPeers() {
  if (blas === undefined) {
    blas = existsSync(python) ? pythonBlas(python) : { env: process.env, line: `Python peers: ${python} not found`, comparable: false, why: "no Python" };
    console.log(`  ${blas.line}`);
  }
  return blas;
}

/** A Python peer script, run with Debian's Python (torch, numpy). */
function peer(script, args = []) {
  const file = path.join(peersDir, script);
  if (!existsSync(python) || !existsSync(file)) return { skipped: `${existsSync(file) ? python : file} not found` };
  return runJson(python, [file, ...args], { env: pythonPeers().env });
}

/** ratio() for a peer that multiplies through the Python peers' BLAS: none where that BLAS is not the best this CPU allows. */
const blasRatio = (peerValue, ours, higherIsBetter = false) =>
  typeof peerValue !== "number" ? "" : pythonPeers().comparable ? ratio(peerValue, ours, higherIsBetter) : `not comparable: ${pythonPeers().why}`;

/** The tfjs peers need their own node_modules: installed once into bench/.peers/tfjs (git-ignored). */
function tfjsDir() {
  const src = path.join(peersDir, "tfjs");
  const dir = path.join(root, "bench", ".peers", "tfjs");
  if (!existsSync(src)) return null;
  if (!existsSync(path.join(dir, "node_modules", "@tensorflow", "tfjs"))) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(src)) copyFileSync(path.join(src, f), path.join(dir, f));
    console.log("  (installing the tfjs peers into bench/.peers/tfjs, once)");
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--silent"], { cwd: dir, stdio: "inherit" });
  }
  return dir;
}
function tfjsPeer(script, args) {
  const dir = tfjsDir();
  if (!dir) return { skipped: "no tfjs peers folder" };
  return runJson(process.execPath, [path.join(dir, script), ...args], { cwd: dir });
}

const only = process.argv.slice(2).map((a) => a.toUpperCase());
const want = (id) => only.length === 0 || only.includes(id);
const ratio = (peerValue, ours, higherIsBetter = false) => {
  if (typeof peerValue !== "number") return "";
  const r = higherIsBetter ? ours / peerValue : peerValue / ours;
  return r >= 1 ? `kernel-lib ${r.toFixed(2)}x faster` : `kernel-lib ${(1 / r).toFixed(2)}x slower`;
};
const row = (name, value, unit, note = "") => console.log(`  ${name.padEnd(26)} ${value.padStart(10)} ${unit.padEnd(9)} ${note}`);

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
const { cpuSimd } = require("kernel-lib");
console.log(`kernel-lib bench: Node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} x${os.cpus().length}, CPU kernels ${cpuSimd()}, ${new Date().toISOString()}`);
console.log("Peers run in this same invocation; ratios compare within this run only.");
pythonPeers();

if (want("W1")) {
  console.log("\nW1 lecture linear regression, scalar engine (101 points, 1000 epochs, graph rebuilt each epoch)");
  const w1 = benchW1();
  const py = peer("w1_lecture_linreg_scalar.py");
  row("kernel-lib Variable", fmt(w1.seconds), "s", `w0=${fmt(w1.w0, 4)} w1=${fmt(w1.w1, 4)}`);
  if (py.skipped) row("Python peer", "skipped", "", py.skipped);
  else {
    row("Python peer", fmt(py.total_seconds_median), "s", `w0=${fmt(py.final_w0, 4)} w1=${fmt(py.final_w1, 4)}`);
    const agree = Math.abs(py.final_w0 - w1.w0) < 1e-9 && Math.abs(py.final_w1 - w1.w1) < 1e-9;
    console.log(`  ratio: ${ratio(py.total_seconds_median, w1.seconds)} (target >= 50x); weights ${agree ? "agree" : "DISAGREE"}`);
    if (!agree) process.exitCode = 1;
  }
}

const torchW6 = want("W6") ? peer("w6_tiny_op_overhead_torch.py") : null;
if (want("W6")) {
  console.log("\nW6 per-op overhead");
  const scalar = benchW6();
  const add = tensorBench.w6add();
  const t = torchW6.skipped ? null : torchW6.results;
  row("kernel-lib Variable graph", fmt(scalar), "us", t ? `PyTorch ${fmt(t.scalar_fb_us)} us: ${ratio(t.scalar_fb_us, scalar)}` : torchW6.skipped);
  row("kernel-lib add of 10", fmt(add), "us", t ? `PyTorch ${fmt(t.add10_us)} us: ${ratio(t.add10_us, add)}` : "");
}

if (want("W3")) {
  console.log("\nW3 tensor linear regression, float32, SGD lr 0.1 (ms per step)");
  const torch = peer("w3_tensor_linreg_torch.py");
  const numpy = peer("w3_tensor_linreg_numpy.py");
  for (const [n, steps] of [[100_000, 200], [1_000_000, 20]]) {
    const ours = tensorBench.w3(n, steps);
    row(`kernel-lib N=${n}`, fmt(ours.msPerStep), "ms/step", `w0=${fmt(ours.w0, 3)} w1=${fmt(ours.w1, 3)} after ${steps} steps`);
    const tidied = tensorBench.w3(n, steps, { tidy: true });
    row("kernel-lib, in tidy()", fmt(tidied.msPerStep), "ms/step", `as the tfjs peers run: ${(ours.msPerStep / tidied.msPerStep).toFixed(2)}x the speed without`);
    // (each peer against both: without tidy() as PyTorch code is written, in tidy() as tfjs code must be)
    const both = (r, v) => (r(v, ours.msPerStep) ? `${r(v, ours.msPerStep)}; in tidy(): ${r(v, tidied.msPerStep)}` : "");
    const key = `N=${n}`;
    if (!torch.skipped) row("  PyTorch", fmt(torch.results[key].ms_per_step), "ms/step", both(blasRatio, torch.results[key].ms_per_step));
    if (!numpy.skipped && numpy.results?.[key]) row("  NumPy (hand gradient)", fmt(numpy.results[key].ms_per_step), "ms/step", both(blasRatio, numpy.results[key].ms_per_step));
    for (const backend of ["cpu", "wasm"]) {
      if (backend === "cpu" && n > 100_000) continue; // tfjs-cpu takes minutes here
      const tf = tfjsPeer("w3_tensor_linreg_tfjs.js", [backend, String(n)]);
      const v = tf.results?.ms_per_step ?? tf.ms_per_step ?? tf.results?.[key]?.ms_per_step;
      row(`  tfjs-${backend}`, tf.skipped ? "skipped" : fmt(v), "ms/step", tf.skipped ?? both(ratio, v));
    }
  }
}

if (want("W4")) {
  console.log("\nW4 MLP 784-H-10, cross-entropy, SGD (ms per step)");
  const torch = peer("w4_mlp_tensor_torch.py");
  const tfs = Object.fromEntries(["cpu", "wasm"].map((b) => [b, tfjsPeer("w4_mlp_tensor_tfjs.js", [b])]));
  for (const [b, h] of [[256, 128], [64, 32]]) {
    const ours = tensorBench.w4(b, h);
    const key = `B=${b},H=${h}`;
    row(`kernel-lib ${key}`, fmt(ours.msPerStep), "ms/step", `loss ${fmt(ours.lossFirst)} -> ${fmt(ours.lossLast)}`);
    const tidied = tensorBench.w4(b, h, { tidy: true });
    row("kernel-lib, in tidy()", fmt(tidied.msPerStep), "ms/step", `as the tfjs peers run: ${(ours.msPerStep / tidied.msPerStep).toFixed(2)}x the speed without`);
    const both = (r, v) => (r(v, ours.msPerStep) ? `${r(v, ours.msPerStep)}; in tidy(): ${r(v, tidied.msPerStep)}` : "");
    if (!torch.skipped) row("  PyTorch", fmt(torch.results[key].ms_per_step_median), "ms/step", both(blasRatio, torch.results[key].ms_per_step_median));
    for (const [backend, tf] of Object.entries(tfs)) {
      row(`  tfjs-${backend}`, tf.skipped ? "skipped" : fmt(tf.results[key].ms_per_step_median), "ms/step", tf.skipped ?? both(ratio, tf.results[key].ms_per_step_median));
    }
  }
}

if (want("W5")) {
  console.log("\nW5 float32 square matmul (GFLOP/s)");
  const sizes = [256, 512, 1024];
  const torch = peer("w5_matmul.py");
  const tfs = Object.fromEntries(["cpu", "wasm"].map((b) => [b, tfjsPeer("w5_matmul_tfjs.js", [b, sizes.join(",")])]));
  const pick = (res, n) => {
    if (!res || res.skipped) return undefined;
    const r = res.results;
    const entry = Array.isArray(r) ? r.find((e) => e.n === n) : r?.[n] ?? r?.[`n=${n}`] ?? r?.[`${n}`];
    return entry?.gflops ?? entry?.torch_gflops ?? entry?.GFLOPs ?? entry?.gflop_s ?? entry?.torch?.gflops ?? entry;
  };
  for (const n of sizes) {
    const ours = tensorBench.w5(n);
    row(`kernel-lib n=${n}`, fmt(ours.gflops, 2), "GFLOP/s");
    const t = pick(torch, n);
    if (torch.skipped) row("  PyTorch", "skipped", "", torch.skipped);
    else row("  PyTorch", typeof t === "number" ? fmt(t, 1) : JSON.stringify(t), "GFLOP/s", typeof t === "number" ? blasRatio(t, ours.gflops, true) : "");
    for (const [backend, tf] of Object.entries(tfs)) {
      const v = pick(tf, n);
      row(`  tfjs-${backend}`, tf.skipped ? "skipped" : typeof v === "number" ? fmt(v, 2) : JSON.stringify(v), "GFLOP/s", tf.skipped ?? (typeof v === "number" ? ratio(v, ours.gflops, true) : ""));
    }
  }
}

if (want("W7")) {
  console.log("\nW7 second order: logistic-regression loss, Hessian and Hessian-vector product (ms per call)");
  const torch = peer("w7_hessian_torch.py");
  const data = w7Data();
  for (const [n, d] of [[1000, 100], [10000, 50]]) {
    const ours = tensorBench.w7(n, d, data.make(n, d));
    const theirs = torch.skipped ? null : torch.cases.find((c) => c.N === n && c.D === d);
    row(`kernel-lib N=${n},D=${d}`, "", "", `H00 ${fmt(ours.H00, 6)} H01 ${fmt(ours.H01, 6)} hvp0 ${fmt(ours.hvp0, 6)}${data.note}`);
    for (const [what, key] of [["hessian", "hessian_ms"], ["hvp", "hvp_ms"], ["grad", "grad_ms"]]) {
      const mine = ours[`${what}Ms`];
      row(`  ${what}`, fmt(mine), "ms", theirs ? `PyTorch ${fmt(theirs[key])} ms: ${blasRatio(theirs[key], mine)}` : torch.skipped);
    }
    if (theirs) {
      const agree = (a, b) => Math.abs(a - b) <= 1e-5 + 1e-4 * Math.abs(b);
      const ok = agree(ours.H00, theirs.H00) && agree(ours.H01, theirs.H01) && agree(ours.hvp0, theirs.hvp0);
      console.log(`  PyTorch H00 ${fmt(theirs.H00, 6)} H01 ${fmt(theirs.H01, 6)} hvp0 ${fmt(theirs.hvp0, 6)}: ${ok ? "agree" : "DISAGREE"} (float32)`);
      if (!ok && data.same) process.exitCode = 1;
    }
  }
  console.log("\nW7b forward mode against a backward pass, W4's MLP as a function of its first layer's weights (ms per call)");
  for (const [b, h] of [[256, 128], [64, 32]]) {
    const r = tensorBench.w4jvp(b, h);
    row(`kernel-lib B=${b},H=${h} forward`, fmt(r.forwardMs), "ms");
    row("  forward + backward", fmt(r.backwardMs), "ms", `${fmt(r.backwardMs / r.forwardMs, 2)}x the forward`);
    row("  jvp (forward mode)", fmt(r.jvpMs), "ms", `${fmt(r.jvpMs / r.forwardMs, 2)}x the forward`);
  }
}

/**
 * W7's data as the peer makes it (numpy default_rng(0)), written by Debian's
 * Python with numpy; without it, our own generator (the H values then differ
 * from the peer's and are not compared).
 */
function w7Data() {
  const script = `
import sys, numpy as np
n, d = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
X = (rng.standard_normal((n, d)) / np.sqrt(d)).astype(np.float32)
s = np.sign(rng.standard_normal(n)); s[s == 0] = 1
y = s.astype(np.float32)
w = (rng.standard_normal(d) * 0.1).astype(np.float32)
sys.stdout.buffer.write(X.tobytes() + y.tobytes() + w.tobytes())
`;
  const fromNumpy = (n, d) => {
    const buf = execFileSync(python, ["-c", script, String(n), String(d)], { maxBuffer: 1 << 28 });
    const f = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    return { X: f.slice(0, n * d), y: f.slice(n * d, n * d + n), w: f.slice(n * d + n) };
  };
  try {
    fromNumpy(2, 2);
    return { make: fromNumpy, same: true, note: "" };
  } catch {
    const rng = new Random(0);
    const normal = () => Math.sqrt(-2 * Math.log(1 - rng.random())) * Math.cos(2 * Math.PI * rng.random());
    const make = (n, d) => ({
      X: Float32Array.from({ length: n * d }, () => normal() / Math.sqrt(d)),
      y: Float32Array.from({ length: n }, () => (normal() >= 0 ? 1 : -1)),
      w: Float32Array.from({ length: d }, () => normal() * 0.1),
    });
    return { make, same: false, note: " (our own data: numpy is missing)" };
  }
}

