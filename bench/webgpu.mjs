#!/usr/bin/env node
// WebGPU side of the benchmarks: matmul and elementwise add through kernel-lib's
// webgpu backend, and the W4 MLP step on GPU vs CPU. `node bench/webgpu.mjs [--quick]`
// Run on the machine whose GPU is measured; PyTorch CUDA is printed beside it when
// /usr/bin/python3 (or python3) has torch with CUDA.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const k = require("kernel-lib");

const quick = process.argv.includes("--quick");
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x, d = 2) => x.toFixed(d);

/** Seconds per call of fn (GPU work), with enough calls that the final read's latency is small. */
async function timeGpu(fn, minReps) {
  const run = async (reps) => {
    const t0 = performance.now();
    let out;
    // each result freed as the next is made, as in a training loop
    for (let i = 0; i < reps; i++) {
      out?.dispose();
      out = k.tidy(fn);
    }
    await out.reshape(-1).index(0).item(); // waits for all queued work
    out.dispose();
    return (performance.now() - t0) / 1000;
  };
  await run(2); // warm-up: compile pipelines, fill the buffer pool
  const estimate = (await run(minReps)) / minReps;
  const reps = Math.max(minReps, Math.min(500, Math.ceil(0.5 / estimate)));
  const times = [];
  for (let r = 0; r < 3; r++) times.push((await run(reps)) / reps);
  return median(times);
}

function torchPeer() {
  const code = `
import json, time, torch
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
res = {"torch": torch.__version__, "cuda": torch.cuda.is_available()}
if torch.cuda.is_available():
    d = torch.device("cuda")
    for n in ${quick ? "[256]" : "[1024, 2048, 4096]"}:
        a = torch.randn(n, n, device=d); b = torch.randn(n, n, device=d)
        for _ in range(3): a @ b
        torch.cuda.synchronize(); reps = 20; t = time.perf_counter()
        for _ in range(reps): a @ b
        torch.cuda.synchronize(); s = (time.perf_counter() - t) / reps
        res[f"matmul{n}_tflops"] = 2 * n**3 / s / 1e12
    n = ${quick ? "10**6" : "10**8"}
    a = torch.ones(n, device=d); b = torch.ones(n, device=d)
    for _ in range(3): a + b
    torch.cuda.synchronize(); reps = 20; t = time.perf_counter()
    for _ in range(reps): a + b
    torch.cuda.synchronize(); s = (time.perf_counter() - t) / reps
    res["add_GBps"] = 3 * 4 * n / s / 1e9
print(json.dumps(res))`;
  for (const py of ["/usr/bin/python3", "python3"]) {
    try {
      return JSON.parse(execFileSync(py, ["-c", code], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n").pop());
    } catch {
      // try the next one
    }
  }
  return null;
}

/** tfjs-backend-webgpu on the same adapter, in its own process (installed once into bench/.peers). */
function tfjsPeer() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  let modules = process.env.TFJS_WEBGPU_MODULES;
  if (!modules) {
    const dir = path.join(root, "bench", ".peers", "tfjs-webgpu");
    modules = path.join(dir, "node_modules");
    if (!existsSync(path.join(modules, "@tensorflow", "tfjs-backend-webgpu"))) {
      try {
        mkdirSync(dir, { recursive: true });
        execFileSync("npm", ["install", "--prefix", dir, "--no-audit", "--no-fund", "--silent", "@tensorflow/tfjs-core@4.22.0", "@tensorflow/tfjs-backend-webgpu@4.22.0"], { stdio: "inherit" });
      } catch {
        return null;
      }
    }
  }
  try {
    const out = execFileSync(process.execPath, [path.join(root, "bench", "tfjs-webgpu-peer.cjs"), modules, ...(quick ? ["--quick"] : [])], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 600_000,
    });
    return JSON.parse(out.trim().split("\n").pop());
  } catch {
    return null;
  }
}

const adapter = await k.initWebGPU();
console.log(`kernel-lib webgpu bench on ${adapter.vendor} ${adapter.device} (${adapter.description}), Node ${process.version}`);
const torch = torchPeer();
console.log(torch ? `PyTorch peer: ${torch.torch}, CUDA ${torch.cuda}` : "PyTorch peer: not available here");
const tfw = tfjsPeer();
console.log(tfw ? `tfjs peer: ${tfw.tfjs} backend ${tfw.backend}` : "tfjs-backend-webgpu peer: not available here");

console.log("\nmatmul float32 (TFLOP/s)");
for (const n of quick ? [256] : [1024, 2048, 4096]) {
  const a = k.randn([n, n]).to("webgpu");
  const b = k.randn([n, n]).to("webgpu");
  const s = await timeGpu(() => a.matmul(b), quick ? 2 : 10);
  const ours = (2 * n ** 3) / s / 1e12;
  const peer = torch?.[`matmul${n}_tflops`];
  const tf = tfw?.[`matmul${n}_tflops`];
  console.log(
    `  n=${n}: kernel-lib ${fmt(ours)}${peer ? `   PyTorch CUDA (TF32 off) ${fmt(peer)} (ours/theirs ${fmt(ours / peer)})` : ""}` +
      `${tf ? `   tfjs-webgpu ${fmt(tf)} (ours/theirs ${fmt(ours / tf)})` : ""}`,
  );
}

console.log("\nelementwise add float32 (GB/s, bytes read + written)");
{
  const n = quick ? 1e6 : 1e8;
  const a = k.full([n], 1, { device: "webgpu" });
  const b = k.full([n], 2, { device: "webgpu" });
  const s = await timeGpu(() => a.add(b), quick ? 3 : 20);
  const ours = (3 * 4 * n) / s / 1e9;
  const peer = torch?.add_GBps;
  const tf = tfw?.add_GBps;
  console.log(
    `  n=${n}: kernel-lib ${fmt(ours, 0)}${peer ? `   PyTorch CUDA ${fmt(peer, 0)} (ours/theirs ${fmt(ours / peer)})` : ""}` +
      `${tf ? `   tfjs-webgpu ${fmt(tf, 0)} (ours/theirs ${fmt(ours / tf)})` : ""}`,
  );
}

console.log("\nW4 MLP 784-128-10 step, SGD (ms per step): GPU vs CPU");
for (const batch of quick ? [64] : [256, 1024, 4096]) {
  const res = {};
  for (const device of ["cpu", "webgpu"]) {
    k.manualSeed(0);
    const X = k.randn([batch, 784]).to(device);
    const labels = k.randint(0, 10, [batch]).to(device);
    const model = new k.nn.Sequential(new k.nn.Linear(784, 128), new k.nn.ReLU(), new k.nn.Linear(128, 10)).to(device);
    const opt = new k.optim.SGD(model.parameters(), { lr: 0.1 });
    const step = () =>
      k.tidy(() => {
        opt.zeroGrad();
        const loss = k.crossEntropy(model.forward(X), labels);
        loss.backward();
        opt.step();
        return loss;
      });
    await step().item();
    const steps = device === "cpu" ? 5 : 20;
    const t0 = performance.now();
    let loss;
    for (let i = 0; i < steps; i++) loss = step();
    await loss.item();
    res[device] = (performance.now() - t0) / steps;
  }
  console.log(`  batch ${batch}: cpu ${fmt(res.cpu)}  webgpu ${fmt(res.webgpu)}  (GPU ${fmt(res.cpu / res.webgpu)}x the CPU speed)`);
}
k.releaseWebGPU();
