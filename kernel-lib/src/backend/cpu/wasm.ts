import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { PATHS } from "./paths";

/**
 * The WebAssembly SIMD kernels of the CPU backend (kernel-lib/assembly,
 * compiled by AssemblyScript during the build), over one shared memory so a
 * worker thread can take half of a large product. Loaded on first use; where
 * WebAssembly SIMD is missing the JavaScript loops are used instead.
 */

// The few WebAssembly globals used here (the library compiles without DOM types).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
};
interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}
type MatmulFn = (a: number, b: number, c: number, m: number, k: number, n: number, packed: number, transA: number, transB: number) => void;
type ElementwiseFn = (op: number, a: number, b: number, out: number, n: number, scalars: number) => void;
type RowSumFn = (src: number, out: number, rows: number, R: number) => void;
type GemvFn = (M: number, v: number, y: number, rows: number, k: number) => void;
type RowsFn = (op: number, a: number, b: number, out: number, outer: number, inner: number, aStride: number, bStride: number, scalars: number) => void;

export const MAX_PAGES = 32768; // 2 GiB

/**
 * Which build of the kernels this runtime runs: "relaxed-simd" (fused
 * multiply-adds, Node 22 and later) where it validates the module, else
 * "simd128". KERNEL_LIB_WASM=simd128 asks for the plain one (to compare or
 * test both on one runtime).
 */
export type WasmFlavour = "relaxed-simd" | "simd128";
const wasmDir = path.join(__dirname, "..", "..", "wasm");
let flavour: WasmFlavour | undefined;
export function wasmFlavour(): WasmFlavour {
  if (flavour === undefined) {
    const fma = path.join(wasmDir, "matmul-fma.wasm");
    flavour = process.env.KERNEL_LIB_WASM !== "simd128" && existsSync(fma) && WebAssembly.validate(readFileSync(fma)) ? "relaxed-simd" : "simd128";
  }
  return flavour;
}
/** The file of a kernel module ("matmul" or "elementwise") in the build this runtime runs. */
export const wasmFile = (name: "matmul" | "elementwise", f: WasmFlavour = wasmFlavour()): string => path.join(wasmDir, `${name}${f === "relaxed-simd" ? "-fma" : ""}.wasm`);

interface Kernels {
  memory: WasmMemory;
  matmul: MatmulFn;
  /** A helper thread and its control words: state, then the job's arguments. */
  helper: { worker: Worker; control: Int32Array } | null;
}

let kernels: Kernels | null | undefined;

/** Instantiate a kernel module over `memory` (the matmul one is also used by the worker thread). */
export function instantiate<T = { matmul: MatmulFn }>(memory: WasmMemory, file: string): T {
  const module = new WebAssembly.Module(readFileSync(file));
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort: () => {
        throw new Error("kernel-lib wasm abort");
      },
    },
  });
  return instance.exports as T;
}

function load(): Kernels | null {
  if (kernels !== undefined) return kernels;
  try {
    const file = wasmFile("matmul");
    if (!existsSync(file)) throw new Error(`${file} is missing (run npm run build)`);
    const memory = new WebAssembly.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    kernels = { memory, matmul: instantiate(memory, file).matmul, helper: null };
    if (availableParallelism() > 1) {
      const control = new Int32Array(new SharedArrayBuffer(64));
      const worker = new Worker(path.join(__dirname, "matmul-worker.js"), { workerData: { memory, control, file } });
      worker.unref(); // never keeps the process (or the kernel) alive
      worker.on("error", () => kernels && (kernels.helper = null));
      kernels.helper = { worker, control };
    }
  } catch {
    kernels = null;
  }
  return kernels;
}

const KC = 256;
const IDLE = 0;
const POSTED = 1;
const DONE = 2;

/**
 * `batch` float32 products [m, k] x [k, n] into `out`, or false when the
 * WebAssembly kernels are unavailable. Large products are split by rows
 * between this thread and the helper.
 */
export function wasmMatmul(
  A: Float32Array,
  B: Float32Array,
  out: Float32Array,
  batch: number,
  m: number,
  k: number,
  n: number,
  aBatchStride: number,
  bBatchStride: number,
  transA: boolean,
  transB: boolean,
): boolean {
  const w = load();
  if (!w) return false;
  const aBytes = 4 * m * k;
  const bBytes = 4 * k * n;
  const cBytes = 4 * m * n;
  const packedBytes = 4 * Math.min(KC, k) * Math.ceil(n / 8) * 8;
  const pa = 0;
  const pb = pa + aBytes;
  const pc = pb + bBytes;
  const pp = (pc + cBytes + 15) & ~15;
  const pp2 = (pp + packedBytes + 15) & ~15;
  reserve(w, pp2 + packedBytes + 64);
  // rows split between the threads; a transposed A (stored [k, m]) has no contiguous row block, so it is not split
  const split = w.helper !== null && !transA && m >= PATHS.threadRows && m * k * n >= PATHS.threadWork ? Math.ceil(m / 8) * 4 : m;
  for (let t = 0; t < batch; t++) {
    const mem = w.memory.buffer;
    new Float32Array(mem, pa, m * k).set(A.subarray(t * aBatchStride, t * aBatchStride + m * k));
    new Float32Array(mem, pb, k * n).set(B.subarray(t * bBatchStride, t * bBatchStride + k * n));
    const helper = split < m ? w.helper! : null;
    if (helper) {
      // rows [split, m) go to the helper, which packs B into its own scratch
      helper.control.set([POSTED, pa + 4 * split * k, pb, pc + 4 * split * n, m - split, k, n, pp2, transB ? 1 : 0]);
      Atomics.notify(helper.control, 0);
    }
    w.matmul(pa, pb, pc, split, k, n, pp, transA ? 1 : 0, transB ? 1 : 0);
    if (helper) {
      while (Atomics.load(helper.control, 0) !== DONE) Atomics.wait(helper.control, 0, POSTED, 1000);
      Atomics.store(helper.control, 0, IDLE);
    }
    out.set(new Float32Array(w.memory.buffer, pc, m * n), t * m * n);
  }
  return true;
}

/** Grow a memory to at least `bytes` (a shared one keeps earlier views valid; views of another are made anew after). */
function reserve(w: { memory: WasmMemory }, bytes: number): void {
  const have = w.memory.buffer.byteLength;
  if (bytes > have) w.memory.grow(Math.ceil((bytes - have) / 65536));
}

/**
 * The elementwise kernels have a memory of their own, not shared: copies in
 * and out of a shared memory are about half as fast, and no other thread
 * needs these.
 */
interface ElementwiseKernels {
  memory: WasmMemory;
  elementwise: ElementwiseFn;
  rowSum: RowSumFn;
  gemvRows: GemvFn;
  gemvCols: GemvFn;
  elementwiseRows: RowsFn;
}
let elementwiseKernels: ElementwiseKernels | null | undefined;
function elementwiseInstance(): ElementwiseKernels | null {
  try {
    const file = wasmFile("elementwise");
    if (!existsSync(file)) throw new Error(`${file} is missing (run npm run build)`);
    const memory = new WebAssembly.Memory({ initial: 16, maximum: MAX_PAGES, shared: false });
    return { memory, ...instantiate<Omit<ElementwiseKernels, "memory">>(memory, file) };
  } catch {
    return null;
  }
}
function loadElementwise(): ElementwiseKernels | null {
  if (elementwiseKernels === undefined) elementwiseKernels = elementwiseInstance();
  return elementwiseKernels;
}

// The matrix-vector products have an instance of their own, whose memory keeps
// the last matrix: the same matrix again (X in X w, then X^T g, in every step
// of a loop) is not copied again while its storage is unchanged.
let matvecKernels: ElementwiseKernels | null | undefined;
let resident: { owner: WeakRef<{ version: number }>; version: number; at: number; size: number } | null = null;

const align = (p: number): number => (p + 15) & ~15;

/** The op codes of assembly/elementwise.ts. */
export const WASM_OPS = { add: 0, sub: 1, mul: 2, div: 3, neg: 4, relu: 5, abs: 6, copy: 7, square: 8 } as const;
export type WasmOp = keyof typeof WASM_OPS;

/**
 * out = op(inputs) over n float32 values, in WebAssembly SIMD; each input is
 * n contiguous values from its offset, or (scalar) the one value there.
 * False when the WebAssembly kernels are unavailable.
 */
export function wasmElementwise(op: WasmOp, inputs: Float32Array[], offsets: number[], scalar: boolean[], out: Float32Array): boolean {
  // one row of them all
  return wasmElementwiseRows(op, inputs, offsets, scalar.map((s) => ({ stride: 0, scalar: s })), 1, out.length, out);
}

/** out[r] = the sum of row r of src ([rows, R] float32), or false without the kernels. */
export function wasmRowSum(src: Float32Array, out: Float32Array, rows: number, R: number): boolean {
  const w = loadElementwise();
  if (!w) return false;
  const po = align(4 * rows * R);
  reserve(w, po + 4 * rows);
  new Float32Array(w.memory.buffer, 0, rows * R).set(src.subarray(0, rows * R));
  w.rowSum(0, po, rows, R);
  out.set(new Float32Array(w.memory.buffer, po, rows));
  return true;
}

/**
 * y = M v for a float32 matrix of `rows` x `k` values read from `mo`: stored
 * [rows, k] (byRows: dot products) or [k, rows] (rows scaled and added); the
 * sums in float32, as the matmul kernel's. False without the kernels.
 */
export function wasmMatvec(
  M: Float32Array,
  mo: number,
  V: Float32Array,
  vo: number,
  y: Float32Array,
  yo: number,
  rows: number,
  k: number,
  byRows: boolean,
  /** M's storage: its version says whether a copy kept from an earlier call is still M */
  owner?: { version: number },
): boolean {
  if (matvecKernels === undefined) matvecKernels = elementwiseInstance();
  const w = matvecKernels;
  if (!w) return false;
  const size = rows * k;
  const pv = align(4 * size);
  const py = align(pv + 4 * k);
  reserve(w, py + 4 * rows);
  const mem = w.memory.buffer;
  const kept = owner !== undefined && resident !== null && resident.owner.deref() === owner && resident.version === owner.version && resident.at === mo && resident.size === size;
  if (!kept) {
    new Float32Array(mem, 0, size).set(M.subarray(mo, mo + size));
    resident = owner === undefined ? null : { owner: new WeakRef(owner), version: owner.version, at: mo, size };
  }
  new Float32Array(mem, pv, k).set(V.subarray(vo, vo + k));
  (byRows ? w.gemvRows : w.gemvCols)(0, pv, py, rows, k);
  y.set(new Float32Array(w.memory.buffer, py, rows), yo);
  return true;
}

/** How an input reads the rows of an elementwise op: row r starts `stride` values after row r - 1; `scalar`: one value per row. */
export interface RowRead {
  stride: number;
  scalar: boolean;
}

/**
 * out = op(inputs) over `outer` rows of `inner` float32 values, each input
 * read as its RowRead says from its offset (the broadcasts a batch of
 * tangents makes: [B, n] against [n]). False without the kernels.
 */
export function wasmElementwiseRows(op: WasmOp, inputs: Float32Array[], offsets: number[], reads: RowRead[], outer: number, inner: number, out: Float32Array): boolean {
  const w = loadElementwise();
  if (!w) return false;
  const at: number[] = [];
  const spans = reads.map((r) => (outer - 1) * r.stride + (r.scalar ? 1 : inner));
  let p = 0;
  for (const span of spans) {
    at.push(p);
    p = align(p + 4 * span);
  }
  const po = p;
  reserve(w, po + 4 * out.length);
  const mem = w.memory.buffer;
  inputs.forEach((x, i) => new Float32Array(mem, at[i], spans[i]).set(x.subarray(offsets[i], offsets[i] + spans[i])));
  const two = inputs.length > 1;
  w.elementwiseRows(WASM_OPS[op], at[0], two ? at[1] : at[0], po, outer, inner, reads[0].stride, two ? reads[1].stride : reads[0].stride, (reads[0].scalar ? 1 : 0) | (two && reads[1].scalar ? 2 : 0));
  out.set(new Float32Array(w.memory.buffer, po, out.length));
  return true;
}
