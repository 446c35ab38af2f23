// float32 matrix product for the CPU backend, compiled to WebAssembly with
// SIMD by AssemblyScript (npm run build). C[m,n] = A[m,k] · B[k,n], row-major.
// Blocked GotoBLAS-style: B is packed KC rows at a time into panels of 8
// columns; a micro-kernel keeps a 4x8 block of C in eight f32x4 registers.

import { madd } from "./madd";

const KC: i32 = 256;
const MC: i32 = 64;

@inline
function microKernel(a: usize, rowStride: usize, kStride: usize, panel: usize, kc: i32, c: usize, ldc: i32, rows: i32, cols: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const stride = rowStride;
  let a0 = a;
  let p = panel;
  if (rows == 4) {
    for (let kk = 0; kk < kc; kk++) {
      const b0 = v128.load(p);
      const b1 = v128.load(p, 16);
      let x = v128.load32_splat(a0);
      c00 = madd(x, b0, c00);
      c01 = madd(x, b1, c01);
      x = v128.load32_splat(a0 + stride);
      c10 = madd(x, b0, c10);
      c11 = madd(x, b1, c11);
      x = v128.load32_splat(a0 + 2 * stride);
      c20 = madd(x, b0, c20);
      c21 = madd(x, b1, c21);
      x = v128.load32_splat(a0 + 3 * stride);
      c30 = madd(x, b0, c30);
      c31 = madd(x, b1, c31);
      a0 += kStride;
      p += 32;
    }
  } else {
    for (let kk = 0; kk < kc; kk++) {
      const b0 = v128.load(p);
      const b1 = v128.load(p, 16);
      let x = v128.load32_splat(a0);
      c00 = madd(x, b0, c00);
      c01 = madd(x, b1, c01);
      if (rows > 1) {
        x = v128.load32_splat(a0 + stride);
        c10 = madd(x, b0, c10);
        c11 = madd(x, b1, c11);
      }
      if (rows > 2) {
        x = v128.load32_splat(a0 + 2 * stride);
        c20 = madd(x, b0, c20);
        c21 = madd(x, b1, c21);
      }
      a0 += kStride;
      p += 32;
    }
  }
  const cs = <usize>ldc << 2;
  if (cols == 8) {
    v128.store(c, f32x4.add(v128.load(c), c00));
    v128.store(c, f32x4.add(v128.load(c, 16), c01), 16);
    if (rows > 1) {
      v128.store(c + cs, f32x4.add(v128.load(c + cs), c10));
      v128.store(c + cs, f32x4.add(v128.load(c + cs, 16), c11), 16);
    }
    if (rows > 2) {
      v128.store(c + 2 * cs, f32x4.add(v128.load(c + 2 * cs), c20));
      v128.store(c + 2 * cs, f32x4.add(v128.load(c + 2 * cs, 16), c21), 16);
    }
    if (rows > 3) {
      v128.store(c + 3 * cs, f32x4.add(v128.load(c + 3 * cs), c30));
      v128.store(c + 3 * cs, f32x4.add(v128.load(c + 3 * cs, 16), c31), 16);
    }
    return;
  }
  // a partial panel at the right edge: add lane by lane
  for (let r = 0; r < rows; r++) {
    const lo = r == 0 ? c00 : r == 1 ? c10 : r == 2 ? c20 : c30;
    const hi = r == 0 ? c01 : r == 1 ? c11 : r == 2 ? c21 : c31;
    const row = c + <usize>r * cs;
    for (let j = 0; j < cols; j++) {
      const v: f32 = j == 0 ? f32x4.extract_lane(lo, 0) : j == 1 ? f32x4.extract_lane(lo, 1) : j == 2 ? f32x4.extract_lane(lo, 2)
        : j == 3 ? f32x4.extract_lane(lo, 3) : j == 4 ? f32x4.extract_lane(hi, 0) : j == 5 ? f32x4.extract_lane(hi, 1)
        : j == 6 ? f32x4.extract_lane(hi, 2) : f32x4.extract_lane(hi, 3);
      store<f32>(row + (<usize>j << 2), load<f32>(row + (<usize>j << 2)) + v);
    }
  }
}

/**
 * C = op(A)·op(B); `packed` is scratch for KC x roundUp(n, 8) floats. With
 * transA, A is stored [k, m]; with transB, B is stored [n, k].
 */
export function matmul(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, packed: usize, transA: bool, transB: bool): void {
  memory.fill(c, 0, <usize>m * <usize>n * 4);
  const panels = (n + 7) >> 3;
  for (let k0 = 0; k0 < k; k0 += KC) {
    const kc = min(KC, k - k0);
    // pack B[k0:k0+kc, :] as panels[j][kk][8], zero-padded past n
    for (let jp = 0; jp < panels; jp++) {
      const cols = min(8, n - jp * 8);
      let dst = packed + <usize>jp * <usize>kc * 32;
      for (let kk = 0; kk < kc; kk++) {
        const src = b + ((<usize>(k0 + kk) * <usize>n + <usize>(jp * 8)) << 2);
        if (transB) {
          // B stored [n, k]: element (k0 + kk, j) is at (j, k0 + kk)
          for (let j = 0; j < 8; j++) {
            store<f32>(dst + (<usize>j << 2), j < cols ? load<f32>(b + ((<usize>(jp * 8 + j) * <usize>k + <usize>(k0 + kk)) << 2)) : 0);
          }
        } else if (cols == 8) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
        } else {
          for (let j = 0; j < 8; j++) store<f32>(dst + (<usize>j << 2), j < cols ? load<f32>(src + (<usize>j << 2)) : 0);
        }
        dst += 32;
      }
    }
    for (let i0 = 0; i0 < m; i0 += MC) {
      const i1 = min(m, i0 + MC);
      for (let jp = 0; jp < panels; jp++) {
        const panel = packed + <usize>jp * <usize>kc * 32;
        const cols = min(8, n - jp * 8);
        for (let i = i0; i < i1; i += 4) {
          const rows = min(4, i1 - i);
          // A(i, k0) and the byte steps to the next row and the next k
          const start = transA ? a + ((<usize>k0 * <usize>m + <usize>i) << 2) : a + ((<usize>i * <usize>k + <usize>k0) << 2);
          const rowStride: usize = transA ? 4 : <usize>k << 2;
          const kStride: usize = transA ? <usize>m << 2 : 4;
          microKernel(start, rowStride, kStride, panel, kc, c + ((<usize>i * <usize>n + <usize>(jp * 8)) << 2), n, rows, cols);
        }
      }
    }
  }
}
