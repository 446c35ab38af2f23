import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { PATHS } from "./paths";

/**
 * The WebAssembly SIMD kernels of the CPU backend (kernel-lib/assembly,
 * compiled by AssemblyScript during the build), all over one shared memory:
 * large float32 tensors live in it (arena.ts), so the kernels work on them in
 * place, and a worker thread can take half of a large product. Loaded on
 * first use; where WebAssembly SIMD is missing the JavaScript loops are used
 * instead. Every function here takes byte offsets into that memory.
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
type ColSumFn = (src: number, out: number, rows: number, cols: number, acc: number) => void;
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
export const wasmFile = (name: "matmul" | "elementwise"): string => path.join(wasmDir, `${name}${wasmFlavour() === "relaxed-simd" ? "-fma" : ""}.wasm`);

/** The loaded kernels: the memory, each module's exports, and the helper thread. */
export interface Kernels {
  memory: WasmMemory;
  matmul: MatmulFn;
  elementwise: ElementwiseFn;
  rowSum: RowSumFn;
  colSum: ColSumFn;
  gemvRows: GemvFn;
  gemvCols: GemvFn;
  elementwiseRows: RowsFn;
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

/** A module made at run time (./chain-wasm) over the kernels' memory: its exports. */
export function instantiateBytes<T>(memory: WasmMemory, bytes: Uint8Array): T {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as T;
}

/** The kernels, loaded on first use; null where WebAssembly SIMD (or the build's files) is missing. */
export function wasmKernels(): Kernels | null {
  if (kernels !== undefined) return kernels;
  try {
    const file = wasmFile("matmul");
    const ew = wasmFile("elementwise");
    for (const f of [file, ew]) if (!existsSync(f)) throw new Error(`${f} is missing (run npm run build)`);
    const memory = new WebAssembly.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    kernels = { memory, matmul: instantiate(memory, file).matmul, ...instantiate<Omit<Kernels, "memory" | "matmul" | "helper">>(memory, ew), helper: null };
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

/** Grow the memory to at least `bytes` (it is shared, so views made earlier stay valid). */
export function reserve(w: Kernels, bytes: number): void {
  const have = w.memory.buffer.byteLength;
  if (bytes > have) w.memory.grow(Math.ceil((bytes - have) / 65536));
}

const KC = 256;
const IDLE = 0;
const POSTED = 1;
const DONE = 2;

/**
 * One float32 product [m, k] x [k, n] at byte offsets a, b into c, with
 * `packed` and `packed2` scratch of packedBytes(k, n) each. Large products
 * are split by rows between this thread and the helper.
 */
export function wasmMatmul(w: Kernels, a: number, b: number, c: number, m: number, k: number, n: number, transA: boolean, transB: boolean, packed: number, packed2: number): void {
  // rows split between the threads; a transposed A (stored [k, m]) has no contiguous row block, so it is not split
  const split = w.helper !== null && !transA && m >= PATHS.threadRows && m * k * n >= PATHS.threadWork ? Math.ceil(m / 8) * 4 : m;
  const helper = split < m ? w.helper! : null;
  if (helper) {
    // rows [split, m) go to the helper, which packs B into its own scratch
    helper.control.set([POSTED, a + 4 * split * k, b, c + 4 * split * n, m - split, k, n, packed2, transB ? 1 : 0]);
    Atomics.notify(helper.control, 0);
  }
  w.matmul(a, b, c, split, k, n, packed, transA ? 1 : 0, transB ? 1 : 0);
  if (helper) {
    while (Atomics.load(helper.control, 0) !== DONE) Atomics.wait(helper.control, 0, POSTED, 1000);
    Atomics.store(helper.control, 0, IDLE);
  }
}

/** The bytes of one thread's packing scratch for a product with inner size k and n columns. */
export const packedBytes = (k: number, n: number): number => 4 * Math.min(KC, k) * Math.ceil(n / 8) * 8;

/** The op codes of assembly/elementwise.ts. */
export const WASM_OPS = { add: 0, sub: 1, mul: 2, div: 3, neg: 4, relu: 5, abs: 6, copy: 7, square: 8 } as const;
export type WasmOp = keyof typeof WASM_OPS;
