import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import * as path from "node:path";

// kernel-lib's modules load in any order: each built module is required first,
// in a fresh process, and then tensors, autograd, nn and optim must work. (The
// Tensor class once imported its ops and the ops read Tensor at load time, so
// requiring dist/tensor/tensor.js or dist/nn/index.js first broke every op.)

const dist = path.join(__dirname, "..", "kernel-lib", "dist");
// Entry points that act when loaded, not libraries: the four CLIs, the kernel
// preload and the matmul worker thread; and tslab's own patched files, which
// the preload loads in tslab's place (tslab/patched/).
const entryPoints = new Set(["runner/cli.js", "runner/student-cli.js", "runner/kernelspec-cli.js", "runner/grade-cli.js", "tslab/preload.js", "backend/cpu/matmul-worker.js"]);
const notOurs = (m: string) => m.startsWith("tslab/patched/");

function modules(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) return modules(p);
    return f.endsWith(".js") ? [path.relative(dist, p).split(path.sep).join("/")] : [];
  });
}

const use = `
const kl = require(${JSON.stringify(path.join(dist, "index.js"))});
const x = kl.tensor([1, 2, 3]).requiresGrad_();
x.mul(x).sum().backward();
kl.manualSeed(0);
const layer = new kl.nn.Linear(3, 2);
const opt = new kl.optim.SGD(layer.parameters(), { lr: 0.1 });
opt.zeroGrad();
layer.forward(kl.ones([4, 3])).sum().backward();
opt.step();
console.log(JSON.stringify({ grad: x.grad.toArray(), t: kl.arange(6).reshape(2, 3).T.shape, step: layer.parameters().length }));
`;

describe("kernel-lib's modules load in any order", () => {
  const all = modules(dist).filter((m) => !entryPoints.has(m) && !notOurs(m));

  it("finds the built modules", () => {
    expect(all).toContain("tensor/tensor.js");
    expect(all).toContain("nn/index.js");
    expect(all.length).toBeGreaterThan(20);
  });

  it.each(all)("%s first, then tensors, nn and optim work", (m) => {
    const r = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(path.join(dist, m))});\n${use}`], { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ grad: [2, 4, 6], t: [3, 2], step: 2 });
  });
});
