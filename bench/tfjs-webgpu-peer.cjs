// Peer for bench/webgpu.mjs: tfjs-backend-webgpu 4.22 on the same adapter, matmul and
// elementwise add timed the same way. Usage: node bench/tfjs-webgpu-peer.cjs MODULES_DIR [--quick]
// (MODULES_DIR holds @tensorflow/tfjs-core and @tensorflow/tfjs-backend-webgpu). Prints one JSON line.
const path = require("node:path");
const modules = path.resolve(process.argv[2]);
const quick = process.argv.includes("--quick");
const { create, globals } = require("webgpu");
Object.assign(globalThis, globals);
globalThis.navigator = { gpu: create([]) };
const tf = require(path.join(modules, "@tensorflow/tfjs-core"));
require(path.join(modules, "@tensorflow/tfjs-backend-webgpu"));
(async () => {
  await tf.setBackend("webgpu"); await tf.ready();
  const res = {};
  // seconds per call of fn with enough calls that the final read's latency is small (as bench/webgpu.mjs)
  const timeIt = async (fn, read) => {
    const run = async (reps) => {
      const t0 = performance.now();
      let c;
      for (let i = 0; i < reps; i++) { c?.dispose(); c = fn(); }
      await read(c);
      c.dispose();
      return (performance.now() - t0) / 1000;
    };
    await run(2);
    const reps = Math.max(10, Math.min(500, Math.ceil(0.5 / ((await run(10)) / 10))));
    const times = [];
    for (let r = 0; r < 3; r++) times.push((await run(reps)) / reps);
    return times.sort((a, b) => a - b)[1];
  };
  for (const n of quick ? [256] : [1024, 2048, 4096]) {
    const a = tf.randomNormal([n, n]), b = tf.randomNormal([n, n]);
    const s = await timeIt(() => tf.matMul(a, b), (c) => tf.slice(c, [0, 0], [1, 1]).data());
    res[`matmul${n}_tflops`] = 2 * n ** 3 / s / 1e12;
  }
  const n = quick ? 1e6 : 1e8, a = tf.ones([n]), b = tf.ones([n]);
  const s = await timeIt(() => tf.add(a, b), (c) => tf.slice(c, [0], [1]).data());
  res.add_GBps = 12 * n / s / 1e9;
  console.log(JSON.stringify({ tfjs: tf.version_core, backend: tf.getBackend(), ...res }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
