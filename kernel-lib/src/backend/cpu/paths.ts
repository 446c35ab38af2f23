/**
 * Where the CPU backend leaves its JavaScript loops for WebAssembly SIMD, and
 * where a matrix product is split with the helper thread: every threshold in
 * one place. Below them, copying into the WebAssembly memory and the call (or
 * the hand-off to the thread) cost more than the faster loop saves (measured
 * with `npm run bench` on the 2-core CI machines).
 */
export const PATHS = {
  /** float32 elementwise ops and row sums over at least this many values */
  wasmElementwise: 4096,
  /** row sums: rows at least this long */
  wasmRowLength: 16,
  /** float32 matrix-vector products: at least this many multiply-adds */
  wasmMatvec: 4096,
  /** float32 matmul: at least this many multiply-adds (m * k * n) */
  wasmMatmul: 4096,
  /** a matmul shared with the helper thread: at least this many rows and multiply-adds */
  threadRows: 8,
  threadWork: 1 << 23,
} as const;
