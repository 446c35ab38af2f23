// Compiles the WebAssembly kernels (assembly/) with AssemblyScript, each
// twice: plain SIMD128, which every supported Node runs, and with relaxed
// SIMD (fused multiply-add), which Node 22 and later run. The CPU backend
// picks one at load time (src/backend/cpu/wasm.ts).
const { execFileSync } = require("node:child_process");
const path = require("node:path");

const asc = path.join(path.dirname(require.resolve("assemblyscript/package.json")), "bin", "asc.js");
const common = ["-O3", "--importMemory", "--runtime", "stub", "--noAssert"];
// Both import one memory, shared with the matmul's helper thread, in which
// the large float32 tensors live (src/backend/cpu/arena.ts).
const shared = ["--sharedMemory", "--maximumMemory", "32768"];
const modules = [
  { src: "matmul", features: "simd,threads", flags: shared },
  { src: "elementwise", features: "simd,threads", flags: shared },
];
for (const m of modules) {
  for (const [suffix, extra] of [["", ""], ["-fma", ",relaxed-simd"]]) {
    const out = path.join("dist", "wasm", `${m.src}${suffix}.wasm`);
    execFileSync(process.execPath, [asc, path.join("assembly", `${m.src}.ts`), "--outFile", out, "--enable", m.features + extra, ...m.flags, ...common], { stdio: "inherit" });
  }
}
