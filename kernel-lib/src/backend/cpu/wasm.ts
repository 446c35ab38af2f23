import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";

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
};
interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}
type MatmulFn = (a: number, b: number, c: number, m: number, k: number, n: number, packed: number, transA: number, transB: number) => void;

export const WASM_FILE = path.join(__dirname, "..", "..", "wasm", "matmul.wasm");
export const MAX_PAGES = 32768; // 2 GiB

interface Kernels {
  memory: WasmMemory;
  matmul: MatmulFn;
  /** A helper thread and its control words: state, then the job's arguments. */
  helper: { worker: Worker; control: Int32Array } | null;
}

let kernels: Kernels | null | undefined;

/** Instantiate the kernels over `memory` (also used by the worker thread). */
export function instantiate(memory: WasmMemory): MatmulFn {
  const module = new WebAssembly.Module(readFileSync(WASM_FILE));
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort: () => {
        throw new Error("kernel-lib wasm abort");
      },
    },
  });
  return (instance.exports as { matmul: MatmulFn }).matmul;
}

function load(): Kernels | null {
  if (kernels !== undefined) return kernels;
  try {
    if (!existsSync(WASM_FILE)) throw new Error(`${WASM_FILE} is missing (run npm run build)`);
    const memory = new WebAssembly.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    kernels = { memory, matmul: instantiate(memory), helper: null };
    if (availableParallelism() > 1) {
      const control = new Int32Array(new SharedArrayBuffer(64));
      const worker = new Worker(path.join(__dirname, "matmul-worker.js"), { workerData: { memory, control } });
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
  const need = pp2 + packedBytes + 64;
  const have = w.memory.buffer.byteLength;
  if (need > have) w.memory.grow(Math.ceil((need - have) / 65536));
  // rows split between the threads; a transposed A (stored [k, m]) has no contiguous row block, so it is not split
  const split = w.helper !== null && !transA && m >= 8 && m * k * n >= 1 << 23 ? Math.ceil(m / 8) * 4 : m;
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
