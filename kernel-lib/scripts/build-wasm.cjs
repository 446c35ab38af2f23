// Compiles the WebAssembly kernels (assembly/) with AssemblyScript, each
// twice: plain SIMD128, which every supported Node runs, and with relaxed
// SIMD (fused multiply-add), which Node 22 and later run. The CPU backend
// picks one at load time (src/backend/cpu/wasm.ts).
const { execFileSync } = require("node:child_process");
const path = require("node:path");

const asc = path.join(path.dirname(require.resolve("assemblyscript/package.json")), "bin", "asc.js");
// Both import one memory, shared with the matmul's helper thread, in which
// the large float32 tensors live (src/backend/cpu/arena.ts).
const common = ["-O3", "--importMemory", "--sharedMemory", "--maximumMemory", "32768", "--runtime", "stub", "--noAssert"];
for (const src of ["matmul", "elementwise"]) {
  for (const [suffix, features] of [["", "simd,threads"], ["-fma", "simd,threads,relaxed-simd"]]) {
    const out = path.join("dist", "wasm", `${src}${suffix}.wasm`);
    execFileSync(process.execPath, [asc, path.join("assembly", `${src}.ts`), "--outFile", out, "--enable", features, ...common], { stdio: "inherit" });
  }
}
