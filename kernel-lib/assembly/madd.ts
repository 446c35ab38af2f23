// c + x * b in each f32 lane, for the products of matmul.ts and the
// matrix-vector kernels of elementwise.ts: one fused multiply-add where the
// build enables relaxed SIMD (the *-fma.wasm builds, for runtimes that have
// it), else a multiply then an add (plain SIMD128).
@inline
export function madd(x: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(x, b, c);
  return f32x4.add(c, f32x4.mul(x, b));
}
