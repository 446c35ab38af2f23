import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpuSimd, tensor } from "kernel-lib";

// Large float32 elementwise ops and row sums run in WebAssembly SIMD; they
// must give exactly what the JavaScript loops give (float32 +, -, *, / round
// like double arithmetic rounded to float32), including the tail that does not
// fill a SIMD lane group, broadcast values on either side, and NaN.
const N = 10_003; // above the WebAssembly threshold, not a multiple of 4
const f = Math.fround;

function data(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648) * 8 - 4;
  }
  out[7] = NaN;
  out[n - 1] = -0;
  return out;
}

const same = (got: number[], want: number[]) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) throw new Error(`at ${i}: got ${got[i]}, want ${want[i]}`);
};

describe("CPU float32 kernels in WebAssembly SIMD match the plain loops", () => {
  const a = data(N, 1);
  const b = data(N, 2).map((v) => (v === 0 ? 0.5 : v));
  const A = tensor(a);
  const B = tensor(b);
  const pairs: Array<[string, (x: typeof A, y: typeof A | number) => typeof A, (x: number, y: number) => number]> = [
    ["add", (x, y) => x.add(y), (x, y) => f(x + y)],
    ["sub", (x, y) => x.sub(y), (x, y) => f(x - y)],
    ["mul", (x, y) => x.mul(y), (x, y) => f(x * y)],
    ["div", (x, y) => x.div(y), (x, y) => f(x / y)],
  ];
  for (const [name, op, ref] of pairs) {
    it(`${name}: arrays, a broadcast value on the right, and on the left`, () => {
      same(op(A, B).toArray() as number[], Array.from(a, (v, i) => ref(v, b[i])));
      same(op(A, 1.7).toArray() as number[], Array.from(a, (v) => ref(v, f(1.7))));
      same(op(tensor([[-2.5]]), A.reshape([1, N])).toArray().flat() as number[], Array.from(a, (v) => ref(-2.5, v)));
    });
  }
  it("neg, relu (NaN gives 0, as in the loop), abs, square, copy", () => {
    same(A.neg().toArray() as number[], Array.from(a, (v) => -v));
    same(A.relu().toArray() as number[], Array.from(a, (v) => (v > 0 ? v : 0)));
    same(A.abs().toArray() as number[], Array.from(a, (v) => Math.abs(v)));
    same(A.pow(2).toArray() as number[], Array.from(a, (v) => f(v * v)));
    same(A.pow(3).toArray() as number[], Array.from(a, (v) => f(v ** 3))); // not a square: the loop
  });
  it("a value broadcast to every element: copy (expand) and unary ops on it", () => {
    same(tensor(-1.25).expand([N]).mul(1).toArray() as number[], Array(N).fill(-1.25));
    same(tensor([3.5]).expand([N]).neg().toArray() as number[], Array(N).fill(-3.5));
    same(tensor([[-3.5]]).expand([1, N]).relu().toArray().flat() as number[], Array(N).fill(0));
    same(tensor([1.5]).expand([N]).pow(2).toArray() as number[], Array(N).fill(2.25));
  });
  it("row sums agree with a float64 sum rounded to float32", () => {
    const clean = a.map((v) => (Number.isNaN(v) ? 1 : v));
    const rows = 7;
    const R = Math.floor(N / rows);
    const t = tensor(clean.subarray(0, rows * R)).reshape([rows, R]);
    const got = t.sum(1).toArray() as number[];
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let i = 0; i < R; i++) s += clean[r * R + i];
      expect(Math.abs(got[r] - f(s))).toBeLessThanOrEqual(Math.abs(f(s)) * 1e-7 + 1e-6);
    }
    expect(tensor(clean).sum().item()).toBeCloseTo(clean.reduce((p, v) => p + v, 0), 2);
  });
  it("column sums (a bias gradient: leading axes summed) are the loop's float64 sums in row order, bit for bit", () => {
    const clean = a.map((v) => (Number.isNaN(v) ? 1 : v));
    const [rows, cols] = [37, 203]; // cols not a multiple of 4
    const t = tensor(clean.subarray(0, rows * cols)).reshape([rows, cols]);
    const want = Array.from({ length: cols }, (_, j) => {
      let s = 0;
      for (let i = 0; i < rows; i++) s += clean[i * cols + j];
      return f(s);
    });
    same(t.sum(0).toArray() as number[], want);
    same((t.reshape([1, rows, cols]).sum([0, 1]).toArray() as number[]), want);
  });
  it("rows against a broadcast row or a value per row (a batch of tangents times a derivative) match the loops bit for bit", () => {
    const [B, n] = [7, 1001]; // above the threshold together, n not a multiple of 4
    const t = data(B * n, 3);
    const d = data(n, 4).map((v) => (v === 0 ? 0.5 : v));
    const perRow = data(B, 5).map((v) => (v === 0 ? 0.5 : v));
    const T = tensor(t).reshape(B, n);
    const cases: Array<[string, () => number[], (r: number, i: number) => number]> = [
      ["[B, n] * [n]", () => Array.from(T.mul(tensor(d)).data()), (r, i) => f(t[r * n + i] * d[i])],
      ["[n] / [B, n]", () => Array.from(tensor(d).div(T).data()), (r, i) => f(d[i] / t[r * n + i])],
      ["[B, n] - [B, 1]", () => Array.from(T.sub(tensor(perRow).reshape(B, 1)).data()), (r, i) => f(t[r * n + i] - perRow[r])],
      ["[B, 1] + [n]", () => Array.from(tensor(perRow).reshape(B, 1).add(tensor(d)).data()), (r, i) => f(perRow[r] + d[i])],
      ["every other row of [2B, n], negated", () => Array.from(tensor(data(2 * B * n, 6)).reshape(2 * B, n).index("::2").neg().data()), (r, i) => -data(2 * B * n, 6)[2 * r * n + i]],
    ];
    for (const [name, got, want] of cases) {
      const g = got();
      const w = Array.from({ length: B * n }, (_, k) => want(Math.floor(k / n), k % n));
      try {
        same(g, w);
      } catch (e) {
        throw new Error(`${name}: ${(e as Error).message}`);
      }
    }
  });

  it("matrix-vector products (X w, X^T g, v^T X, and the batched forms) agree with a float64 product to float32 precision", () => {
    // 301 x 53: above the threshold, and neither a multiple of 4
    const [rows, k] = [301, 53];
    // (no NaN, and no -0 at the end, where it would hide a dropped last term)
    const values = (n: number, seed: number) => Array.from(data(n + 1, seed).subarray(0, n)).map((v) => (Number.isNaN(v) ? 1 : v));
    const X = values(rows * k, 5);
    const w = values(k, 6);
    const g = values(rows, 7);
    const x32 = tensor(X).reshape(rows, k);
    const x64 = x32.double();
    const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      expect(a.length).toBe(b.length);
      // (float32 sums of 53 or 301 terms of size up to 16: a few units in the last place of the larger terms)
      for (let i = 0; i < b.length; i++) if (Math.abs(a[i] - b[i]) > 2e-5 * (1 + Math.abs(b[i]))) throw new Error(`at ${i}: ${a[i]} vs ${b[i]}`);
    };
    const cases: Array<[string, (x: typeof x32, w: typeof x32, g: typeof x32) => typeof x32]> = [
      ["X w (dot products)", (x, w) => x.matmul(w)],
      ["X^T g (rows scaled and added)", (x, _w, g) => x.T.matmul(g)],
      ["g^T X", (x, _w, g) => g.matmul(x)],
      ["w^T X^T", (x, w) => w.matmul(x.T)],
      ["a batch of X w", (x, w) => x.reshape(1, rows, k).expand(2, rows, k).matmul(w.reshape(k, 1))],
    ];
    for (const [name, f] of cases) {
      const got = f(x32, tensor(w), tensor(g));
      const want = f(x64, tensor(w, { dtype: "float64" }), tensor(g, { dtype: "float64" }));
      expect(got.shape, name).toEqual(want.shape);
      close(got.data(), want.float().data());
    }
  });

  it("a matrix changed in place between two products (through a view) gives the new product", () => {
    const X = tensor(Array.from(data(200 * 41, 8)).map((v) => (Number.isNaN(v) ? 1 : v))).reshape(200, 41);
    const w = tensor(Array.from({ length: 41 }, (_, i) => i / 41));
    const before = Array.from(X.matmul(w).data());
    expect(Array.from(X.matmul(w).data())).toEqual(before); // (again: the same)
    X.index(3).fill_(2); // in place, through a view
    const after = Array.from(X.matmul(w).data());
    const row3 = Array.from({ length: 41 }, (_, i) => 2 * (i / 41)).reduce((a, b) => a + b, 0);
    expect(after[3]).toBeCloseTo(row3, 4);
    expect(after.filter((v, i) => i !== 3 && v !== before[i])).toEqual([]);
    // another matrix of the same size is not taken for the kept one
    const Y = X.mul(-1);
    expect(Array.from(Y.matmul(w).data())).toEqual(after.map((v) => (v === 0 ? 0 : -v)));
  });

  it("gradients through the fast path are unchanged", () => {
    const w = tensor(a.map((v) => (Number.isNaN(v) ? 0 : v)), { requiresGrad: true });
    w.mul(B).add(1).pow(2).mean().backward();
    const g = w.grad!.toArray() as number[];
    const want = Array.from(a, (_, i) => (2 * f(f((Number.isNaN(a[i]) ? 0 : a[i]) * b[i]) + 1) * b[i]) / N);
    for (let i = 0; i < N; i += 997) expect(g[i]).toBeCloseTo(want[i], 5);
  });
});

// The kernels come in two builds, chosen at load time: relaxed SIMD (fused
// multiply-adds) where the runtime validates it, Node 22 and later, and plain
// SIMD128 for Node 20. CI runs this file on Node 20 and on Node 24, so each
// build runs on the runtime it is for; KERNEL_LIB_WASM=simd128 forces the
// plain one on Node 24 as well.
describe("the SIMD128 and relaxed-SIMD builds of the CPU kernels", () => {
  const major = Number(process.versions.node.split(".")[0]);
  const script = `
    const k = require("kernel-lib");
    const rnd = (n, s) => Float32Array.from({ length: n }, (_, i) => Math.sin(s * 7919 + i * 1.37) * 3);
    // 67 x 130 by 130 x 45: edges in every blocking, above the WebAssembly threshold; and a matrix-vector product
    const A = k.tensor(rnd(67 * 130, 1)).reshape(67, 130);
    const B = k.tensor(rnd(130 * 45, 2)).reshape(130, 45);
    const v = k.tensor(rnd(130, 3));
    const X = k.tensor(rnd(301 * 130, 4)).reshape(301, 130);
    // a weight gradient's g^T X: A stored transposed, large enough to be shared with the helper thread
    const G = k.tensor(rnd(256 * 131, 5)).reshape(256, 131);
    const Xg = k.tensor(rnd(256 * 301, 6)).reshape(256, 301);
    const out = { simd: k.cpuSimd(), mm: Array.from(A.matmul(B).data()), mt: Array.from(A.matmul(B.T.clone().T).data()), mv: Array.from(X.matmul(v).data()), ta: Array.from(G.T.matmul(Xg).data()), ta64: Array.from(G.T.double().matmul(Xg.double()).data()),
      mm64: Array.from(A.double().matmul(B.double()).data()), mv64: Array.from(X.double().matmul(v.double()).data()) };
    process.stdout.write(JSON.stringify(out));`;
  const run = (env: Record<string, string>) => {
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`${r.error ?? ""} ${r.stderr}`);
    return JSON.parse(r.stdout) as { simd: string; mm: number[]; mt: number[]; mv: number[]; mm64: number[]; mv64: number[]; ta: number[]; ta64: number[] };
  };
  const close = (got: number[], want: number[], what: string) => {
    expect(got.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) if (Math.abs(got[i] - want[i]) > 1e-4 * (1 + Math.abs(want[i]))) throw new Error(`${what} at ${i}: ${got[i]} vs ${want[i]}`);
  };
  const fused = run({});
  const plain = run({ KERNEL_LIB_WASM: "simd128" });

  it("loads the relaxed-SIMD build on Node 22 and later, SIMD128 on Node 20 or when asked", () => {
    expect(cpuSimd()).toBe(major >= 22 ? "relaxed-simd" : "simd128");
    expect(fused.simd).toBe(cpuSimd());
    expect(plain.simd).toBe("simd128");
  });

  it("both give products that agree with float64 to float32 precision, transposed operands (and a transposed A shared with the helper thread) included", () => {
    for (const r of [fused, plain]) {
      close(r.mm, r.mm64, `${r.simd} matmul`);
      close(r.mt, r.mm64, `${r.simd} matmul by a transposed view`);
      close(r.mv, r.mv64, `${r.simd} matrix-vector`);
      close(r.ta, r.ta64, `${r.simd} matmul of a transposed A, split with the helper thread`);
    }
  });

  it.skipIf(major < 22)("the relaxed-SIMD build really fuses on a CPU with FMA: its sums round differently from SIMD128's, and closer to float64", () => {
    const fma = /^flags\s*:.*\bfma\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));
    const differ = fused.mm.filter((v, i) => v !== plain.mm[i]).length;
    if (!fma) return expect(differ).toBe(0);
    expect(differ).toBeGreaterThan(fused.mm.length / 10);
    const err = (r: typeof fused) => r.mm.reduce((s, v, i) => s + Math.abs(v - r.mm64[i]), 0);
    expect(err(fused)).toBeLessThan(err(plain));
  });
});
