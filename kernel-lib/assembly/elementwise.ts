// float32 elementwise ops and row sums for the CPU backend, in WebAssembly
// SIMD (npm run build compiles this with matmul.ts into one module). Inputs
// are contiguous arrays or single values broadcast to every element.
// +, -, * and / in float32 round exactly as JavaScript's double arithmetic
// rounded to float32 does, so results match the JavaScript loops bit for bit.

import { madd } from "./madd";

// Op codes (kept in step with WASM_OPS in src/backend/cpu/wasm.ts).
const ADD = 0;
const SUB = 1;
const MUL = 2;
const DIV = 3;
const NEG = 4;
const RELU = 5;
const ABS = 6;
const COPY = 7;
const SQUARE = 8;

@inline
function lanes(op: i32, a: v128, b: v128): v128 {
  switch (op) {
    case ADD: return f32x4.add(a, b);
    case SUB: return f32x4.sub(a, b);
    case MUL: return f32x4.mul(a, b);
    case DIV: return f32x4.div(a, b);
    case NEG: return f32x4.neg(a);
    // a > 0 ? a : 0, with NaN giving 0 as the JavaScript loop does
    case RELU: return v128.and(a, f32x4.gt(a, f32x4.splat(0)));
    case ABS: return f32x4.abs(a);
    case SQUARE: return f32x4.mul(a, a);
    default: return a;
  }
}

@inline
function one(op: i32, a: f32, b: f32): f32 {
  switch (op) {
    case ADD: return a + b;
    case SUB: return a - b;
    case MUL: return a * b;
    case DIV: return a / b;
    case NEG: return -a;
    case RELU: return a > 0 ? a : 0;
    case ABS: return Mathf.abs(a);
    case SQUARE: return a * a;
    default: return a;
  }
}

/** The SIMD loop of one op over whole lane groups, with the operand layout fixed at compile time. */
@inline
function run(op: i32, a: usize, b: usize, out: usize, end: usize, aScalar: bool, bScalar: bool): void {
  const aSplat = f32x4.splat(load<f32>(a));
  const bSplat = f32x4.splat(load<f32>(b));
  while (out < end) {
    v128.store(out, lanes(op, aScalar ? aSplat : v128.load(a), bScalar ? bSplat : v128.load(b)));
    if (!aScalar) a += 16;
    if (!bScalar) b += 16;
    out += 16;
  }
}

@inline
function layouts(op: i32, a: usize, b: usize, out: usize, end: usize, scalars: i32): void {
  switch (scalars) {
    case 0: run(op, a, b, out, end, false, false); break;
    case 1: run(op, a, b, out, end, true, false); break;
    case 2: run(op, a, b, out, end, false, true); break;
    default: run(op, a, b, out, end, true, true); break;
  }
}

/**
 * out[i] = op(a[i], b[i]) for i < n. `scalars` bit 0: a is one value
 * broadcast (a fill, for copy), bit 1: b is. Unary ops ignore b.
 */
export function elementwise(op: i32, a: usize, b: usize, out: usize, n: i32, scalars: i32): void {
  const end = out + (<usize>(n & ~3) << 2);
  // one loop per op and layout, decided outside the loop
  switch (op) {
    case ADD: layouts(ADD, a, b, out, end, scalars); break;
    case SUB: layouts(SUB, a, b, out, end, scalars); break;
    case MUL: layouts(MUL, a, b, out, end, scalars); break;
    case DIV: layouts(DIV, a, b, out, end, scalars); break;
    case NEG: layouts(NEG, a, b, out, end, scalars | 2); break;
    case RELU: layouts(RELU, a, b, out, end, scalars | 2); break;
    case ABS: layouts(ABS, a, b, out, end, scalars | 2); break;
    case SQUARE: layouts(SQUARE, a, b, out, end, scalars | 2); break;
    default: layouts(COPY, a, b, out, end, scalars | 2); break;
  }
  for (let i = n & ~3; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(scalars & 1 ? a : a + o);
    const y = load<f32>(scalars & 2 ? b : b + o);
    store<f32>(out + o, one(op, x, y));
  }
}

/**
 * out[r] = the sum of row r of a [rows, R] float32 array, accumulated in
 * float64 (as the JavaScript loop does) in four running sums.
 */
export function rowSum(src: usize, out: usize, rows: i32, R: i32): void {
  let p = src;
  for (let r = 0; r < rows; r++) {
    let s0 = f64x2.splat(0);
    let s1 = f64x2.splat(0);
    const end = p + (<usize>(R & ~3) << 2);
    while (p < end) {
      const v = v128.load(p);
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)));
      p += 16;
    }
    let acc = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s1, 0) + (f64x2.extract_lane(s0, 1) + f64x2.extract_lane(s1, 1));
    for (let i = R & ~3; i < R; i++) {
      acc += <f64>load<f32>(p);
      p += 4;
    }
    store<f32>(out + (<usize>r << 2), <f32>acc);
  }
}

/**
 * y[i] = the sum over kk of M[i, kk] v[kk], for a [rows, k] float32 M: dot
 * products in float32 lanes (as the matmul kernel sums), four at a time.
 */
export function gemvRows(M: usize, v: usize, y: usize, rows: i32, k: i32): void {
  const k8 = k & ~7;
  const k4 = k & ~3;
  for (let i = 0; i < rows; i++) {
    const r = M + ((<usize>i * <usize>k) << 2);
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    let kk = 0;
    for (; kk < k8; kk += 8) {
      const o = <usize>kk << 2;
      s0 = madd(v128.load(r + o), v128.load(v + o), s0);
      s1 = madd(v128.load(r + o, 16), v128.load(v + o, 16), s1);
    }
    if (kk < k4) {
      const o = <usize>kk << 2;
      s0 = madd(v128.load(r + o), v128.load(v + o), s0);
      kk += 4;
    }
    const s = f32x4.add(s0, s1);
    let acc = (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
    for (; kk < k; kk++) acc += load<f32>(r + (<usize>kk << 2)) * load<f32>(v + (<usize>kk << 2));
    store<f32>(y + (<usize>i << 2), acc);
  }
}

/**
 * y = the sum over kk of v[kk] M[kk, :], for a [k, rows] float32 M (rows
 * scaled and added), in float32 lanes.
 */
export function gemvCols(M: usize, v: usize, y: usize, rows: i32, k: i32): void {
  memory.fill(y, 0, <usize>rows << 2);
  const r4 = rows & ~3;
  for (let kk = 0; kk < k; kk++) {
    const xs = load<f32>(v + (<usize>kk << 2));
    const x = f32x4.splat(xs);
    const row = M + ((<usize>kk * <usize>rows) << 2);
    for (let i = 0; i < r4; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, madd(v128.load(row + o), x, v128.load(y + o)));
    }
    for (let i = r4; i < rows; i++) {
      const o = <usize>i << 2;
      store<f32>(y + o, load<f32>(y + o) + load<f32>(row + o) * xs);
    }
  }
}

/**
 * The same op over `outer` rows of `inner` values: row r of a starts
 * aStride values after row r - 1 (0: every row reads the same values), and
 * likewise for b; out is contiguous. `scalars` as in elementwise (one value
 * per row). A tangent batch times a derivative is this shape.
 */
export function elementwiseRows(op: i32, a: usize, b: usize, out: usize, outer: i32, inner: i32, aStride: i32, bStride: i32, scalars: i32): void {
  for (let r = 0; r < outer; r++) {
    elementwise(op, a + (<usize>(r * aStride) << 2), b + (<usize>(r * bStride) << 2), out + (<usize>(r * inner) << 2), inner, scalars);
  }
}


/**
 * out[j] = the sum over i of src[i, j], for a [rows, cols] float32 array: a
 * bias gradient. Each column is accumulated in float64 in row order, as the
 * JavaScript loop does, four columns at a time; `acc` is scratch for cols
 * float64 values.
 */
export function colSum(src: usize, out: usize, rows: i32, cols: i32, acc: usize): void {
  memory.fill(acc, 0, <usize>cols << 3);
  const c4 = cols & ~3;
  let p = src;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < c4; j += 4) {
      const v = v128.load(p + (<usize>j << 2));
      const q = acc + (<usize>j << 3);
      v128.store(q, f64x2.add(v128.load(q), f64x2.promote_low_f32x4(v)));
      v128.store(q, f64x2.add(v128.load(q, 16), f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1))), 16);
    }
    for (let j = c4; j < cols; j++) {
      const q = acc + (<usize>j << 3);
      store<f64>(q, load<f64>(q) + <f64>load<f32>(p + (<usize>j << 2)));
    }
    p += <usize>cols << 2;
  }
  for (let j = 0; j < cols; j++) store<f32>(out + (<usize>j << 2), <f32>load<f64>(acc + (<usize>j << 3)));
}
