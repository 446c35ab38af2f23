import {
  StridedWalk,
  contiguousStrides,
  numel,
  registerBackend,
  viewLayout,
  type Backend,
  type DType,
  type ElementwiseOp,
  type Program,
  type ReduceOp,
  type Storage,
  type TypedArray,
  type View,
} from "../backend";
import { PATHS } from "./paths";
import { EMPTY, allocate as arenaAllocate, enter, freeScratch, release as arenaRelease, residentPtr, scratch, touch, type Block } from "./arena";
import { instantiateBytes, packedBytes, wasmKernels, wasmMatmul, WASM_OPS, type Kernels, type WasmOp } from "./wasm";
import { CHAIN_OPS, chainModule, type ChainFn, type ChainOp } from "./chain-wasm";

/** Which build of the CPU's WebAssembly kernels this runtime runs: "relaxed-simd" (fused multiply-adds, Node 22+) or "simd128". */
export { wasmFlavour as cpuSimd } from "./wasm";
export type { WasmFlavour as CpuSimd } from "./wasm";
export { cpuMemory } from "./arena";
export type { CpuMemory } from "./arena";

declare module "../backend" {
  interface Devices {
    /** The CPU: typed arrays (large float32 ones in the WebAssembly kernels' memory), read synchronously. */
    cpu: { syncRead: true };
  }
}

// Live storages, counted from the first liveCount() call on: registering every
// storage with a FinalizationRegistry costs more than a small op itself, so
// the count starts only when someone asks for it.
let counting = false;
let live = 0;
const collected = new FinalizationRegistry<undefined>(() => live--);

/**
 * CPU storage: a typed array, or for large float32 ones a block of the
 * kernels' WebAssembly memory (arena.ts) that the kernels use in place.
 */
export class CpuStorage implements Storage {
  version = 0;
  released = false;
  /** The values where they are not in the arena. */
  private array: TypedArray;
  block: Block | null;
  constructor(
    values: TypedArray | { size: number; zero: boolean },
    readonly dtype: DType,
  ) {
    if (ArrayBuffer.isView(values)) {
      this.array = values;
      this.block = null;
    } else {
      this.block = dtype === "float32" ? arenaAllocate(this, values.size, values.zero) : null;
      this.array = this.block === null ? allocate(dtype, values.size) : EMPTY;
    }
    if (counting) {
      live++;
      collected.register(this, undefined, this);
    }
  }
  get data(): TypedArray {
    return this.block !== null ? this.block.data : this.array;
  }
  get size(): number {
    return this.data.length;
  }
  /** Give the memory back (tidy, dispose). */
  free(): void {
    if (this.block !== null) arenaRelease(this.block);
    this.block = null;
    this.array = allocate(this.dtype, 0);
  }
}

/** A new storage of `size` values, zero-filled unless the caller writes every one. */
const fresh = (dtype: DType, size: number, zero = true): CpuStorage => new CpuStorage({ size, zero }, dtype);

function allocate(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
    case "bool":
      return new Uint8Array(size);
  }
}

function data(s: Storage): TypedArray {
  const st = s as CpuStorage;
  if (st.released) freed(); // (the throw in a function of its own keeps this one small enough to inline)
  const b = st.block;
  if (b !== null) {
    touch(b); // (used by the op running now: not evicted before it ends)
    return b.data;
  }
  return st.data;
}

/**
 * The byte offsets a WebAssembly kernel reads and writes for one op: a
 * resident storage in place, any other copied into scratch (and a result
 * copied out by `done`).
 */
class Operands {
  private readonly scratch: number[] = [];
  private readonly outputs: Array<{ ptr: number; to: TypedArray; at: number; n: number }> = [];
  constructor(readonly w: Kernels) {}
  /** `n` values of `s` from `offset`. */
  input(s: Storage, offset: number, n: number): number {
    const st = s as CpuStorage;
    const b = st.block;
    if (b !== null && !st.released) {
      const p = residentPtr(st, b);
      if (p !== null) return p + 4 * offset;
    }
    const p = this.take(4 * n);
    new Float32Array(this.w.memory.buffer, p, n).set((data(st) as Float32Array).subarray(offset, offset + n));
    return p;
  }
  /** Where a kernel writes `n` values of `s` from `offset`. */
  output(s: CpuStorage, offset: number, n: number): number {
    const b = s.block;
    if (b !== null) {
      const p = residentPtr(s, b);
      if (p !== null) return p + 4 * offset;
    }
    const p = this.take(4 * n);
    this.outputs.push({ ptr: p, to: s.data, at: offset, n });
    return p;
  }
  take(bytes: number): number {
    const p = scratch(this.w, bytes);
    this.scratch.push(p);
    return p;
  }
  done(): void {
    for (const o of this.outputs) o.to.set(new Float32Array(this.w.memory.buffer, o.ptr, o.n), o.at);
    for (const p of this.scratch) freeScratch(p);
  }
}

function freed(): never {
  throw new Error("this tensor's memory was freed by tidy() or dispose(); return it from the tidy callback, or keep() it, to use it later");
}

// Each elementwise op as a JavaScript expression over its inputs a, b, c.
const EXPR: Record<ElementwiseOp, string> = {
  copy: "a",
  neg: "-a",
  exp: "Math.exp(a)",
  log: "Math.log(a)",
  log1p: "Math.log1p(a)",
  sqrt: "Math.sqrt(a)",
  abs: "Math.abs(a)",
  sign: "(a > 0 ? 1 : a < 0 ? -1 : a)",
  tanh: "Math.tanh(a)",
  sigmoid: "(a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a)))",
  relu: "(a > 0 ? a : 0)",
  add: "a + b",
  sub: "a - b",
  mul: "a * b",
  div: "a / b",
  pow: "(b === 2 ? a * a : Math.pow(a, b))",
  maximum: "(a > b || a !== a ? a : b)",
  minimum: "(a < b || a !== a ? a : b)",
  lt: "(a < b ? 1 : 0)",
  le: "(a <= b ? 1 : 0)",
  gt: "(a > b ? 1 : 0)",
  ge: "(a >= b ? 1 : 0)",
  eq: "(a === b ? 1 : 0)",
  ne: "(a !== b ? 1 : 0)",
  where: "(a ? b : c)",
};
const NAMES = ["a", "b", "c", "u", "v", "w", "x", "y"]; // (no name that makes a keyword with the loops' suffixes: "do")

/** A fused chain as JavaScript: one statement per step, each rounded to float32 as a Float32Array store would. */
interface Chain {
  lets: string;
  expr: string;
  name: string;
}
function chainSource(p: Program): Chain {
  const value = (j: number) => (j < p.inputs ? NAMES[j] : `s${j - p.inputs}`);
  const steps = p.steps.map(({ op, args }) => `Math.fround(${EXPR[op].replace(/\b[abc]\b/g, (x) => value(args[x.charCodeAt(0) - 97]))})`);
  const last = steps.length - 1;
  return { lets: steps.slice(0, last).map((e, s) => `const s${s} = ${e};`).join(" "), expr: steps[last], name: "fused" };
}
const chains = new Map<string, Kernel>();

type Kernel = (out: TypedArray, ins: TypedArray[], shape: number[], strides: number[][], offsets: number[]) => void;
// The compiled loops, per op, under a number that packs the output dtype and
// each input's dtype and layout: a string key cost more to build and hash
// than the loop of a small op.
const kernels = new Map<ElementwiseOp, Map<number, Kernel>>();
const DTYPE_CODE: Record<DType, number> = { float32: 0, float64: 1, int32: 2, bool: 3 };
const LAYOUT_CODE = { c: 0, s: 1, v: 2 } as const;

/**
 * Compile a loop for an elementwise op, for one layout and one set of array
 * types (so each compiled loop sees one typed-array class and stays
 * monomorphic). `layout` is "flat:" plus, per input, c (contiguous) or s (one
 * broadcast value); or "strided": an odometer over the outer dimensions with a
 * strided inner loop. `op` is one op, or the statements and result of a fused chain.
 */
function compile(op: ElementwiseOp | Chain, layout: string, types: string): Kernel {
  const { lets, expr, name } = typeof op === "string" ? { lets: "", expr: EXPR[op], name: op } : op;
  const arity = types.split(",").length - 1;
  const ins = NAMES.slice(0, arity);
  let body = ins.map((n, i) => `const ${n}_ = ins[${i}];`).join("\n");
  if (layout.startsWith("flat:")) {
    const kinds = layout.slice(5);
    body += ins
      .map((n, i) => (kinds[i] === "s" ? `const ${n} = ${n}_[offsets[${i}]];` : `const ${n}o = offsets[${i}];`))
      .join("\n");
    body += `
const size = out.length;
for (let i = 0; i < size; i++) {
  ${ins.map((n, i) => (kinds[i] === "s" ? "" : `const ${n} = ${n}_[${n}o + i];`)).join(" ")}
  ${lets}
  out[i] = ${expr};
}`;
  } else {
    body += `
const nd = shape.length, inner = shape[nd - 1], outer = out.length / inner;
const idx = new Array(nd - 1).fill(0);
${ins.map((n, i) => `const ${n}st = strides[${i}], ${n}in = ${n}st[nd - 1]; let ${n}p = offsets[${i}];`).join("\n")}
let o = 0;
for (let r = 0; r < outer; r++) {
  ${ins.map((n) => `let ${n}q = ${n}p;`).join(" ")}
  for (let j = 0; j < inner; j++) {
    ${ins.map((n) => `const ${n} = ${n}_[${n}q]; ${n}q += ${n}in;`).join(" ")}
    ${lets}
    out[o++] = ${expr};
  }
  for (let d = nd - 2; d >= 0; d--) {
    idx[d]++;
    ${ins.map((n) => `${n}p += ${n}st[d];`).join(" ")}
    if (idx[d] < shape[d]) break;
    ${ins.map((n) => `${n}p -= ${n}st[d] * shape[d];`).join(" ")}
    idx[d] = 0;
  }
}`;
  }
  // (named, so that a CPU profile says which op and layout a loop is)
  return new Function("out", "ins", "shape", "strides", "offsets", `${body}\n//# sourceURL=kernel-lib-cpu/${name}/${layout}/${types}`) as Kernel;
}


/**
 * op(A) [m, k] times op(B) [k, n] where n or m is 1 (op transposes where
 * its flag is set): the matrix-vector products of a gradient (X w, X^T g),
 * which the matmul kernel would pad to eight columns. Large float32 ones run
 * in WebAssembly SIMD (sums in float32, as the matmul kernel's); the rest
 * read the operands in place and sum in float64.
 */
function matvec(a: Storage, b: Storage, out: CpuStorage, batch: number, m: number, k: number, n: number, aStride: number, bStride: number, transA: boolean, transB: boolean): void {
  // as y = M v: M is op(A) when n = 1, else op(B) transposed (C^T = op(B)^T op(A)^T)
  const rows = n === 1 ? m : n;
  // is M stored as [rows, k] (dot products) or as [k, rows] (sums of scaled rows)?
  const byRows = n === 1 ? !transA : transB;
  const [ms, mStride, vs, vStride] = n === 1 ? [a, aStride, b, bStride] : [b, bStride, a, aStride];
  const w = a.dtype === "float32" && rows * k >= PATHS.wasmMatvec ? wasmKernels() : null;
  if (w) {
    const ops = new Operands(w);
    const pm = ops.input(ms, 0, (batch - 1) * mStride + rows * k);
    const pv = ops.input(vs, 0, (batch - 1) * vStride + k);
    const py = ops.output(out, 0, batch * rows);
    for (let t = 0; t < batch; t++) (byRows ? w.gemvRows : w.gemvCols)(pm + 4 * t * mStride, pv + 4 * t * vStride, py + 4 * t * rows, rows, k);
    ops.done();
    return;
  }
  const [M, V, C] = [data(ms), data(vs), out.data];
  const acc = new Float64Array(rows);
  for (let t = 0; t < batch; t++) {
    const [mo, vo] = [t * mStride, t * vStride];
    if (byRows) {
      for (let i = 0; i < rows; i++) {
        let s = 0;
        const r = mo + i * k;
        for (let kk = 0; kk < k; kk++) s += M[r + kk] * V[vo + kk];
        acc[i] = s;
      }
    } else {
      acc.fill(0);
      for (let kk = 0; kk < k; kk++) {
        const v = V[vo + kk];
        const r = mo + kk * rows;
        for (let i = 0; i < rows; i++) acc[i] += M[r + i] * v;
      }
    }
    C.set(acc, t * m * n);
  }
}

/** How an input reads the rows of an elementwise op: row r starts `stride` values after row r - 1; `scalar`: one value per row. */
interface RowRead {
  stride: number;
  scalar: boolean;
}

/**
 * out = op(inputs) in WebAssembly SIMD over `outer` rows of `inner` float32
 * values, each input read as its RowRead says from its view's offset (one
 * row: a flat op; more: the broadcasts a batch of tangents makes, [B, n]
 * against [n]). False without the kernels.
 */
function wasmRows(op: WasmOp, inputs: View[], reads: RowRead[], outer: number, inner: number, out: CpuStorage): boolean {
  const w = wasmKernels();
  if (!w) return false;
  const ops = new Operands(w);
  const at = inputs.map((v, i) => ops.input(v.storage, v.offset, (outer - 1) * reads[i].stride + (reads[i].scalar ? 1 : inner)));
  const po = ops.output(out, 0, outer * inner);
  const two = inputs.length > 1;
  const scalars = (reads[0].scalar ? 1 : 0) | (two && reads[1].scalar ? 2 : 0);
  const [pa, pb] = [at[0], two ? at[1] : at[0]];
  if (outer === 1) w.elementwise(WASM_OPS[op], pa, pb, po, inner, scalars);
  else w.elementwiseRows(WASM_OPS[op], pa, pb, po, outer, inner, reads[0].stride, two ? reads[1].stride : reads[0].stride, scalars);
  ops.done();
  return true;
}

/**
 * How each input reads `shape` as rows of its last dimension, if every one
 * reads each row contiguously or as one value, with a fixed step from one
 * row to the next; else null.
 */
function rowReads(inputs: View[], shape: number[]): RowRead[] | null {
  const nd = shape.length;
  if (nd < 2) return null;
  const own = contiguousStrides(shape.slice(0, -1)); // a row's place in the outer dimensions
  const reads: RowRead[] = [];
  for (const v of inputs) {
    const st = v.contiguous ? contiguousStrides(shape) : v.strides;
    const si = st[nd - 1];
    if (shape[nd - 1] > 1 && si !== 0 && si !== 1) return null;
    let stride: number | null = null;
    for (let d = 0; d < nd - 1; d++) {
      if (shape[d] === 1) continue;
      const s = st[d] / own[d];
      if (!Number.isInteger(s) || s < 0 || (stride !== null && s !== stride)) return null;
      stride = s;
    }
    reads.push({ stride: stride ?? 0, scalar: shape[nd - 1] === 1 || si === 0 });
  }
  return reads;
}

/** Each [rows, cols] matrix of a batch transposed, packed contiguously (into `out` where given). */
function transposed(x: TypedArray, batch: number, rows: number, cols: number, batchStride: number, out = new (x.constructor as new (n: number) => TypedArray)(batch * rows * cols)): TypedArray {
  for (let t = 0; t < batch; t++) {
    const src = t * batchStride;
    const dst = t * rows * cols;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[dst + c * rows + r] = x[src + r * cols + c];
  }
  return out;
}

const rowReducers = new Map<string, (src: TypedArray, out: TypedArray, rows: number, R: number) => void>();
function rowReducer(op: ReduceOp, dtype: DType): (src: TypedArray, out: TypedArray, rows: number, R: number) => void {
  const key = `${op}|${dtype}`;
  let f = rowReducers.get(key);
  if (!f) {
    const init = op === "sum" ? "0" : op === "max" ? "-Infinity" : "Infinity";
    const step = op === "sum" ? "acc += v;" : op === "max" ? "if (v > acc || v !== v) acc = v;" : "if (v < acc || v !== v) acc = v;";
    f = new Function(
      "src",
      "out",
      "rows",
      "R",
      `for (let r = 0, p = 0; r < rows; r++) { let acc = ${init}; for (const end = p + R; p < end; p++) { const v = src[p]; ${step} } out[r] = acc; }`,
    ) as (src: TypedArray, out: TypedArray, rows: number, R: number) => void;
    rowReducers.set(key, f);
  }
  return f;
}

/**
 * Each step's op in the compiled WebAssembly chains (./chain-wasm), or null
 * if one has none there (pow runs there only as a square of a value).
 */
function chainOps(p: Program, inputs: View[], layouts: string[]): ChainOp[] | null {
  const ops: ChainOp[] = [];
  for (const { op, args } of p.steps) {
    if (op === "pow") {
      const e = args[1];
      if (e >= p.inputs || layouts[e] !== "s" || data(inputs[e].storage)[inputs[e].offset] !== 2) return null;
      ops.push("square");
    } else if (CHAIN_OPS.has(op)) ops.push(op as ChainOp);
    else return null;
  }
  return ops;
}

const chainFns = new Map<string, ChainFn>();
/** A fused chain as compiled WebAssembly over n / R rows of R values, stored or (`sum`) summed per row: false without the kernels. */
function wasmChain(p: Program, ops: ChainOp[], inputs: View[], layouts: string[], out: CpuStorage, n: number, R: number, sum: boolean): boolean {
  const w = wasmKernels();
  if (!w) return false;
  const key = `${p.key}|${layouts.join("")}|${ops.join(",")}|${sum ? "sum" : ""}`;
  let f = chainFns.get(key);
  if (f === undefined) chainFns.set(key, (f = instantiateBytes<{ chain: ChainFn }>(w.memory, chainModule(p, ops, layouts, sum)).chain));
  const operands = new Operands(w);
  const args = inputs.map((v, j) => (layouts[j] === "s" ? data(v.storage)[v.offset] : operands.input(v.storage, v.offset, layouts[j] === "r" ? R : n)));
  const po = operands.output(out, 0, sum ? n / R : n);
  f(...args, po, n / R, R);
  operands.done();
  return true;
}

/** Does `v` read the same contiguous row of shape's last dimension for every row? */
function rowBroadcast(v: View, shape: number[]): boolean {
  const nd = shape.length;
  if (nd < 2 || v.contiguous) return false;
  return (v.strides[nd - 1] === 1 || shape[nd - 1] === 1) && v.strides.every((s, d) => d === nd - 1 || s === 0 || shape[d] === 1);
}

export const cpuBackend: Backend = {
  device: "cpu",
  capabilities: { syncRead: true, float64: true },

  release(storage) {
    const st = storage as CpuStorage;
    if (st.released) return;
    st.released = true;
    st.free();
    if (collected.unregister(st)) live--;
  },

  liveCount() {
    counting = true;
    return live;
  },

  fromArray(values, dtype) {
    enter();
    const o = fresh(dtype, values.length, false);
    o.data.set(values as ArrayLike<number>);
    return o;
  },

  read(storage) {
    return data(storage).slice();
  },

  elementwise(op, inputs, shape, dtype) {
    enter();
    const o = fresh(dtype, numel(shape), false); // (every value is written)
    const out = o.data;
    if (out.length === 0) return o;
    // The kernel key and arguments, built with plain loops: this is the per-op overhead.
    const n = inputs.length;
    const arrays: TypedArray[] = new Array(n);
    const offsets: number[] = new Array(n);
    const layouts: ("c" | "s" | "v")[] = new Array(n);
    let flat = true;
    let float32 = dtype === "float32";
    let key = 4 + DTYPE_CODE[dtype]; // (the leading 1 keeps keys of different lengths apart)
    for (let i = 0; i < n; i++) {
      const v = inputs[i];
      const l = viewLayout(v, shape);
      if (l === "v") flat = false;
      if (v.storage.dtype !== "float32") float32 = false;
      key = key * 16 + DTYPE_CODE[v.storage.dtype] * 4 + LAYOUT_CODE[l];
      layouts[i] = l;
      arrays[i] = data(v.storage);
      offsets[i] = v.offset;
    }
    // float32 arithmetic over contiguous or single values: WebAssembly SIMD
    if (flat && float32 && out.length >= PATHS.wasmElementwise) {
      const square = op === "pow" && layouts[0] === "c" && layouts[1] === "s" && arrays[1][offsets[1]] === 2;
      const wop: WasmOp | null = square ? "square" : op in WASM_OPS ? (op as WasmOp) : null;
      const reads = layouts.map((l) => ({ stride: 0, scalar: l === "s" }));
      if (wop && wasmRows(wop, square ? inputs.slice(0, 1) : inputs, reads, 1, out.length, o)) return o;
    }
    // float32 arithmetic over rows that each input reads contiguously (or as one value): WebAssembly SIMD, row by row
    if (!flat && float32 && out.length >= PATHS.wasmElementwise && op in WASM_OPS) {
      const reads = rowReads(inputs, shape);
      const inner = shape[shape.length - 1];
      const outer = out.length / inner;
      // (each input's rows are copied with what lies between them: not where that is much more than the result)
      if (reads && reads.every((r) => r.stride * outer <= 4 * out.length)) {
        if (wasmRows(op as WasmOp, inputs, reads, outer, inner, o)) return o;
      }
    }
    let byKey = kernels.get(op);
    if (byKey === undefined) kernels.set(op, (byKey = new Map()));
    let k = byKey.get(key);
    if (k === undefined) {
      const types = [dtype, ...inputs.map((v) => v.storage.dtype)].join(",");
      byKey.set(key, (k = compile(op, flat ? "flat:" + layouts.join("") : "strided", types)));
    }
    const strides = flat ? [] : inputs.map((v) => (v.contiguous ? contiguousStrides(shape) : v.strides));
    k(out, arrays, shape, strides, offsets);
    return o;
  },

  fused(program, inputs, shape, sumRows) {
    enter();
    const n = numel(shape);
    const layouts = inputs.map((v) => viewLayout(v, shape));
    const flat = layouts.every((l) => l !== "v");
    // the compiled chains also read a row broadcast to every row (a bias, [n] against [B, n]): "r"
    const inner = shape.length > 0 ? shape[shape.length - 1] : 1;
    const reads = layouts.map((l, j) => (l === "v" && rowBroadcast(inputs[j], shape) ? "r" : l));
    const R = sumRows > 0 ? sumRows : reads.includes("r") ? inner : n;
    // where the ops one at a time would sum in WebAssembly, the chain does too (the same order of additions)
    const wasmSum = sumRows > 0 && n >= PATHS.wasmElementwise && sumRows >= PATHS.wasmRowLength;
    if (!reads.includes("v") && n > 0 && (sumRows === 0 || wasmSum) && (R === inner || !reads.includes("r"))) {
      const ops = chainOps(program, inputs, reads);
      if (ops) {
        const o = fresh("float32", sumRows > 0 ? n / sumRows : n, false);
        if (wasmChain(program, ops, inputs, reads, o, n, R, sumRows > 0)) return o;
        o.free();
      }
    }
    const o = fresh("float32", n, false);
    if (n > 0) {
      const key = program.key + (flat ? "|flat:" + layouts.join("") : "|strided");
      let k = chains.get(key);
      if (k === undefined) chains.set(key, (k = compile(chainSource(program), flat ? "flat:" + layouts.join("") : "strided", ["float32", ...inputs.map(() => "float32")].join(","))));
      const strides = flat ? [] : inputs.map((v) => (v.contiguous ? contiguousStrides(shape) : v.strides));
      k(o.data, inputs.map((v) => data(v.storage)), shape, strides, inputs.map((v) => v.offset));
    }
    if (sumRows === 0) return o;
    const sums = cpuBackend.reduce("sum", o, [n / sumRows, sumRows], [1]);
    cpuBackend.release(o);
    return sums;
  },

  reduce(op: ReduceOp, x, shape, axes) {
    enter();
    const red = axes.slice().sort((p, q) => p - q);
    const outType: DType = x.dtype === "bool" ? "int32" : x.dtype;
    if (red.every((a, i) => a === shape.length - red.length + i)) {
      // reduced axes trailing: rows of contiguous values, one compiled loop per op and dtype
      const R = numel(axes.map((a) => shape[a]));
      const o = fresh(outType, numel(shape.slice(0, shape.length - axes.length)), false);
      const rows = o.size;
      const w = op === "sum" && x.dtype === "float32" && rows * R >= PATHS.wasmElementwise && R >= PATHS.wasmRowLength ? wasmKernels() : null;
      if (w) {
        const ops = new Operands(w);
        w.rowSum(ops.input(x, 0, rows * R), ops.output(o, 0, rows), rows, R);
        ops.done();
      } else rowReducer(op, x.dtype)(data(x), o.data, rows, R);
      return o;
    }
    const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const result = fresh(outType, numel(outShape), false);
    // leading axes reduced (a bias gradient, summed over the batch): columns in WebAssembly SIMD
    const cols = result.size;
    const w = op === "sum" && x.dtype === "float32" && x.size >= PATHS.wasmElementwise && red.every((a, i) => a === i) ? wasmKernels() : null;
    if (w) {
      const ops = new Operands(w);
      w.colSum(ops.input(x, 0, x.size), ops.output(result, 0, cols), x.size / cols, cols, ops.take(8 * cols));
      ops.done();
      return result;
    }
    const src = data(x);
    const out = result.data;
    const init = op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
    const strides = contiguousStrides(shape);
    // Reduced axes elsewhere: odometers over the kept and the reduced axes.
    const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const redSize = numel(red.map((i) => shape[i]));
    const outer = new StridedWalk(kept.map((i) => shape[i]), kept.map((i) => strides[i]));
    const inner = new StridedWalk(red.map((i) => shape[i]), red.map((i) => strides[i]));
    // (one reduced axis, the common case, e.g. a bias gradient: a plain strided loop)
    const step = red.length === 1 ? strides[red[0]] : 0;
    for (let o = 0; o < out.length; o++, outer.next()) {
      let acc = init;
      inner.reset(outer.at);
      for (let j = 0, p = outer.at; j < redSize; j++) {
        const v = src[step ? p : inner.at];
        if (op === "sum") acc += v;
        else if (op === "max" ? v > acc || v !== v : v < acc || v !== v) acc = v;
        if (step) p += step;
        else inner.next();
      }
      out[o] = acc;
    }
    return result;
  },

  argReduce(op, x, shape, axis) {
    enter();
    const src = data(x);
    const n = shape[axis];
    const inner = numel(shape.slice(axis + 1));
    const outer = numel(shape.slice(0, axis));
    const out = new Int32Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let best = 0;
        let bestV = src[o * n * inner + i];
        for (let j = 1; j < n; j++) {
          const v = src[(o * n + j) * inner + i];
          if (bestV !== bestV) break;
          if (op === "max" ? v > bestV || v !== v : v < bestV || v !== v) {
            best = j;
            bestV = v;
          }
        }
        out[o * inner + i] = best;
      }
    }
    return new CpuStorage(out, "int32");
  },

  matmul(a, b, { batch, m, k, n, aBatchStride, bBatchStride, transA, transB }) {
    enter();
    const result = fresh(a.dtype, batch * m * n, false); // (every value is written)
    // a matrix times a vector (or a vector times a matrix): one pass over the matrix, in place
    if (n === 1 || m === 1) {
      matvec(a, b, result, batch, m, k, n, aBatchStride, bBatchStride, transA, transB);
      return result;
    }
    // float32 products of some size go to the WebAssembly SIMD kernel, which reads transposed operands in place
    const w = a.dtype === "float32" && m * k * n >= PATHS.wasmMatmul ? wasmKernels() : null;
    if (w) {
      const ops = new Operands(w);
      let [pa, aStride, tA] = [0, aBatchStride, transA];
      if (transA && w.helper !== null && m >= PATHS.threadRows && m * k * n >= PATHS.threadWork) {
        // A stored transposed ([k, m], a weight gradient's g^T X) has no block of rows to give the helper
        // thread: worth transposing into scratch first (m k values moved against m k n multiply-adds)
        pa = ops.take(4 * batch * m * k);
        transposed(data(a), batch, k, m, aBatchStride, new Float32Array(w.memory.buffer, pa, batch * m * k));
        [aStride, tA] = [m * k, false];
      } else pa = ops.input(a, 0, (batch - 1) * aBatchStride + m * k);
      const pb = ops.input(b, 0, (batch - 1) * bBatchStride + k * n);
      const pc = ops.output(result, 0, batch * m * n);
      const pp = ops.take(packedBytes(k, n));
      const pp2 = w.helper ? ops.take(packedBytes(k, n)) : pp;
      for (let t = 0; t < batch; t++) wasmMatmul(w, pa + 4 * t * aStride, pb + 4 * t * bBatchStride, pc + 4 * t * m * n, m, k, n, tA, transB, pp, pp2);
      ops.done();
      return result;
    }
    let A = data(a);
    let B = data(b);
    const C = result.data;
    // the JavaScript loop wants plain row-major operands
    if (transA) [A, aBatchStride] = [transposed(A, batch, k, m, aBatchStride), m * k];
    if (transB) [B, bBatchStride] = [transposed(B, batch, n, k, bBatchStride), k * n];
    // Four rows of C at a time, accumulated in float64: each value of B read
    // once per four rows, and one rounding per output.
    const acc = new Float64Array(4 * n);
    for (let t = 0; t < batch; t++) {
      const ao = t * aBatchStride;
      const bo = t * bBatchStride;
      const co = t * m * n;
      for (let i = 0; i < m; i += 4) {
        const rows = Math.min(4, m - i);
        acc.fill(0);
        const r0 = ao + i * k;
        if (rows === 4) {
          for (let kk = 0; kk < k; kk++) {
            const a0 = A[r0 + kk];
            const a1 = A[r0 + k + kk];
            const a2 = A[r0 + 2 * k + kk];
            const a3 = A[r0 + 3 * k + kk];
            const br = bo + kk * n;
            for (let j = 0; j < n; j++) {
              const v = B[br + j];
              acc[j] += a0 * v;
              acc[n + j] += a1 * v;
              acc[2 * n + j] += a2 * v;
              acc[3 * n + j] += a3 * v;
            }
          }
        } else {
          for (let r = 0; r < rows; r++) {
            for (let kk = 0; kk < k; kk++) {
              const av = A[r0 + r * k + kk];
              const br = bo + kk * n;
              for (let j = 0; j < n; j++) acc[r * n + j] += av * B[br + j];
            }
          }
        }
        C.set(acc.subarray(0, rows * n), co + i * n);
      }
    }
    return result;
  },

  viewAdd(base, src, shape, strides, offset) {
    enter();
    const result = fresh(base.dtype, base.size, false);
    const out = result.data;
    out.set(data(base));
    const s = data(src);
    const at = new StridedWalk(shape, strides, offset);
    for (let i = 0; i < s.length; i++, at.next()) out[at.at] += s[i];
    return result;
  },

  gather(x, xShape, dim, index, indexShape) {
    enter();
    const src = data(x);
    const ind = data(index);
    const result = fresh(x.dtype, ind.length, false);
    const out = result.data;
    const xStrides = contiguousStrides(xShape);
    // along `dim` the position comes from the index, elsewhere from the walk
    const at = new StridedWalk(indexShape, xStrides.map((s, d) => (d === dim ? 0 : s)));
    for (let i = 0; i < ind.length; i++, at.next()) out[i] = src[at.at + ind[i] * xStrides[dim]];
    return result;
  },

  scatterAdd(src, indexShape, dim, index, outShape) {
    enter();
    const s = data(src);
    const ind = data(index);
    const result = fresh(src.dtype, numel(outShape));
    const out = result.data;
    const oStrides = contiguousStrides(outShape);
    const at = new StridedWalk(indexShape, oStrides.map((s, d) => (d === dim ? 0 : s)));
    for (let i = 0; i < ind.length; i++, at.next()) out[at.at + ind[i] * oStrides[dim]] += s[i];
    return result;
  },

  copyInto(target, src) {
    enter();
    data(target).set(data(src));
  },

  cast(x, dtype) {
    enter();
    const result = fresh(dtype, x.size, false);
    const out = result.data;
    const src = data(x);
    if (dtype === "bool") for (let i = 0; i < src.length; i++) out[i] = src[i] ? 1 : 0;
    else if (dtype === "int32") for (let i = 0; i < src.length; i++) out[i] = Math.trunc(src[i]);
    else out.set(src);
    return result;
  },
};

registerBackend(cpuBackend);
