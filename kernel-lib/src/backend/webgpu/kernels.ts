/**
 * WGSL sources for the primitive kernels. Every value is computed in f32;
 * storage types are f32 (float32), i32 (int32) and u32 (bool).
 */
import type { DType, ElementwiseOp, Program, ReduceOp } from "../backend";

export const WG = 256;

export function wgslType(dtype: DType): string {
  switch (dtype) {
    case "float32":
      return "f32";
    case "int32":
      return "i32";
    case "bool":
      return "u32";
    case "float64":
      throw new TypeError("float64 is not supported on webgpu (WGSL has no 64-bit floats); use float32");
  }
}

/** f32 value `v` stored as `dtype`. */
function store(dtype: DType, v: string): string {
  if (dtype === "float32") return v;
  if (dtype === "int32") return `i32(${v})`;
  return `select(0u, 1u, ${v} != 0.0)`;
}

// Non-finite constants must not be constant expressions (WGSL rejects them), so
// they are read from private variables at run time.
const SPECIALS = `
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
fn nan() -> f32 { return bitcast<f32>(NAN_BITS); }
fn inf() -> f32 { return bitcast<f32>(INF_BITS); }`;
const NAN = "nan()";

const EXPR: Record<ElementwiseOp, string> = {
  copy: "a",
  neg: "-a",
  exp: "exp(a)",
  log: `select(select(log(a), -inf(), a == 0.0), ${NAN}, a < 0.0)`,
  // log(u) * a / (u - 1) with u = 1 + a cancels u's rounding error (Kahan's trick)
  log1p: `select(select(select(log(1.0 + a) * a / ((1.0 + a) - 1.0), a, 1.0 + a == 1.0), -inf(), a == -1.0), ${NAN}, a < -1.0)`,
  sqrt: `select(sqrt(a), ${NAN}, a < 0.0)`,
  abs: "abs(a)",
  sign: "sign(a)",
  // tanh from exp of a non-positive argument: no overflow for large |a|
  tanh: "sign(a) * (1.0 - exp(-2.0 * abs(a))) / (1.0 + exp(-2.0 * abs(a)))",
  sigmoid: "select(exp(a) / (1.0 + exp(a)), 1.0 / (1.0 + exp(-a)), a >= 0.0)",
  relu: "max(a, 0.0)",
  add: "a + b",
  sub: "a - b",
  mul: "a * b",
  div: "a / b",
  pow: "powf(a, b)",
  maximum: "max(a, b)",
  minimum: "min(a, b)",
  lt: "select(0.0, 1.0, a < b)",
  le: "select(0.0, 1.0, a <= b)",
  gt: "select(0.0, 1.0, a > b)",
  ge: "select(0.0, 1.0, a >= b)",
  eq: "select(0.0, 1.0, a == b)",
  ne: "select(0.0, 1.0, a != b)",
  where: "select(c, b, a != 0.0)",
};

// WGSL's pow is undefined for a negative base; this one follows C's pow.
const POW = `${SPECIALS}
fn powf(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (b == 2.0) { return a * a; }
  if (a >= 0.0) { return select(pow(a, b), select(0.0, inf(), b < 0.0), a == 0.0); }
  if (fract(b) != 0.0) { return ${NAN}; }
  let p = pow(-a, b);
  return select(p, -p, (i32(b) & 1) == 1);
}`;

const INDEX = `
fn linearId(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * ${WG}u; }`;

const NAMES = ["a", "b", "c", "d", "e", "f"];

/** What an elementwise kernel computes from its inputs a, b, ...: statements, then the result. */
export interface Body {
  lets: string;
  expr: string;
}
/** One op, or a fused chain (one `let` per step, in f32 as the ops one at a time store). */
export function bodyOf(op: ElementwiseOp | Program): Body {
  if (typeof op === "string") return { lets: "", expr: EXPR[op] };
  const value = (j: number) => (j < op.inputs ? NAMES[j] : `s${j - op.inputs}`);
  const steps = op.steps.map(({ op: o, args }) => EXPR[o].replace(/\b[abc]\b/g, (x) => value(args[x.charCodeAt(0) - 97])));
  const last = steps.length - 1;
  return { lets: steps.slice(0, last).map((e, s) => `let s${s} = ${e};`).join(" "), expr: steps[last] };
}

/**
 * Elementwise op over inputs read through views. `layout` per input: c
 * (contiguous), s (one value) or v (strided view). meta (i32): size, ndim,
 * shape[ndim], then per input offset and strides[ndim].
 */
export function elementwiseSource(body: Body, outType: DType, inTypes: DType[], layout: string): string {
  const ins = inTypes.map((t, i) => `@group(0) @binding(${i + 1}) var<storage, read> in${i}: array<${wgslType(t)}>;`);
  const reads = inTypes.map((_, i) => `let ${NAMES[i]} = f32(in${i}[p${i}]);`);
  // Input positions: contiguous ones are offset + i, scalars offset, views by decomposing i.
  const positions = inTypes
    .map((_, i) => {
      const base = `2 + ndim + ${i} * (ndim + 1)`;
      if (layout[i] === "c") return `let p${i} = u32(params[${base}]) + i;`;
      if (layout[i] === "s") return `let p${i} = u32(params[${base}]);`;
      return `var p${i}i = params[${base}];`;
    })
    .join("\n  ");
  const strided = inTypes.map((_, i) => i).filter((i) => layout[i] === "v");
  const decompose = strided.length
    ? `var rem = i32(i);
  for (var d = ndim - 1; d >= 0; d--) {
    let s = params[2 + d];
    let idx = rem % s;
    rem = rem / s;
    ${strided.map((i) => `p${i}i += idx * params[2 + ndim + ${i} * (ndim + 1) + 1 + d];`).join("\n    ")}
  }
  ${strided.map((i) => `let p${i} = u32(p${i}i);`).join("\n  ")}`
    : "";
  return `
@group(0) @binding(0) var<storage, read_write> out: array<${wgslType(outType)}>;
${ins.join("\n")}
@group(0) @binding(${inTypes.length + 1}) var<storage, read> params: array<i32>;
${POW}
${INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearId(gid, nwg);
  let size = u32(params[0]);
  if (i >= size) { return; }
  let ndim = params[1];
  ${positions}
  ${decompose}
  ${reads.join("\n  ")}
  ${body.lets}
  out[i] = ${store(outType, body.expr)};
}`;
}

/**
 * The common case of float32 inputs read in order (or one broadcast value)
 * and a float32 result: four elements per thread through vec4 loads and
 * stores. `layout` as for elementwiseSource, c or s only; size % 4 == 0.
 * params: size / 4, then per input its offset (a multiple of 4 for c).
 */
export function elementwiseVec4Source(body: Body, layout: string): string {
  const ins = [...layout].map(
    (l, i) => `@group(0) @binding(${i + 1}) var<storage, read> in${i}: array<${l === "c" ? "vec4<f32>" : "f32"}>;`,
  );
  const loads = [...layout].map((l, i) =>
    l === "c" ? `let v${i} = in${i}[u32(params[${i + 1}]) / 4u + i];` : `let ${NAMES[i]} = in${i}[u32(params[${i + 1}])];`,
  );
  const picks = [...layout].map((l, i) => (l === "c" ? `let ${NAMES[i]} = v${i}[q];` : "")).join(" ");
  return `
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
${ins.join("\n")}
@group(0) @binding(${layout.length + 1}) var<storage, read> params: array<i32>;
${POW}
${INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // a grid-stride loop: a bounded number of threads, several vec4 each
  let count = u32(params[0]);
  let stride = nwg.x * nwg.y * ${WG}u;
  for (var i = linearId(gid, nwg); i < count; i += stride) {
    ${loads.join("\n    ")}
    var r: vec4<f32>;
    for (var q = 0u; q < 4u; q++) {
      ${picks}
      ${body.lets}
      r[q] = ${body.expr};
    }
    out[i] = r;
  }
}`;
}

const REDUCE: Record<ReduceOp, { init: string; combine: string }> = {
  sum: { init: "0.0", combine: "x + y" },
  max: { init: "-inf()", combine: "select(max(x, y), x, x != x)" },
  min: { init: "inf()", combine: "select(min(x, y), x, x != x)" },
};

/**
 * Row reduction: rows of length R; each workgroup reduces one chunk of one
 * row into out[row * chunks + chunk]. meta: R, chunks, chunkLen, rows.
 */
export function reduceSource(op: ReduceOp, inType: DType, outType: DType): string {
  const { init, combine } = REDUCE[op];
  return `
@group(0) @binding(0) var<storage, read_write> out: array<${wgslType(outType)}>;
@group(0) @binding(1) var<storage, read> x: array<${wgslType(inType)}>;
@group(0) @binding(2) var<storage, read> params: array<i32>;
var<workgroup> sh: array<f32, ${WG}>;
${SPECIALS}
fn combine(x: f32, y: f32) -> f32 { return ${combine}; }
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let R = u32(params[0]);
  let chunks = u32(params[1]);
  let chunkLen = u32(params[2]);
  let rows = u32(params[3]);
  let w = wid.x + wid.y * nwg.x;
  if (w >= rows * chunks) { return; }
  let row = w / chunks;
  let c = w % chunks;
  let start = row * R + c * chunkLen;
  let end = min(start + chunkLen, row * R + R);
  var acc = ${init};
  for (var j = start + lid.x; j < end; j += ${WG}u) { acc = combine(acc, f32(x[j])); }
  sh[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid.x < s) { sh[lid.x] = combine(sh[lid.x], sh[lid.x + s]); }
    workgroupBarrier();
  }
  if (lid.x == 0u) { out[w] = ${store(outType, "sh[0]")}; }
}`;
}

/** Index of the max/min of each row (first on ties, NaN wins). meta: R, rows. */
export function argReduceSource(op: "max" | "min", inType: DType): string {
  const better = op === "max" ? "v > bv" : "v < bv";
  return `
@group(0) @binding(0) var<storage, read_write> out: array<i32>;
@group(0) @binding(1) var<storage, read> x: array<${wgslType(inType)}>;
@group(0) @binding(2) var<storage, read> params: array<i32>;
var<workgroup> shv: array<f32, ${WG}>;
var<workgroup> shi: array<i32, ${WG}>;
fn wins(v: f32, vi: i32, bv: f32, bi: i32) -> bool {
  if (bi < 0) { return vi >= 0; }
  if (vi < 0) { return false; }
  if (bv != bv) { return v != v && vi < bi; }
  if (v != v) { return true; }
  return ${better} || (v == bv && vi < bi);
}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let R = u32(params[0]);
  let rows = u32(params[1]);
  let row = wid.x + wid.y * nwg.x;
  if (row >= rows) { return; }
  var bv = 0.0;
  var bi = -1;
  for (var j = lid.x; j < R; j += ${WG}u) {
    let v = f32(x[row * R + j]);
    if (wins(v, i32(j), bv, bi)) { bv = v; bi = i32(j); }
  }
  shv[lid.x] = bv;
  shi[lid.x] = bi;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid.x < s && wins(shv[lid.x + s], shi[lid.x + s], shv[lid.x], shi[lid.x])) {
      shv[lid.x] = shv[lid.x + s];
      shi[lid.x] = shi[lid.x + s];
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) { out[row] = shi[0]; }
}`;
}

export const TILE = 128;
const TK = 8;

/**
 * Tiled matmul: a 128x128 block of C per workgroup of 256 threads, each
 * accumulating an 8x8 sub-block in registers; A and B pass through workgroup
 * memory 8 deep (A stored transposed so both are read as rows of vec4).
 * params: m, k, n, aBatchStride, bBatchStride, transA, transB (A stored
 * [k, m], B stored [n, k] when set).
 */
export function matmulSource(): string {
  return `
@group(0) @binding(0) var<storage, read_write> C: array<f32>;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<i32>;
var<workgroup> As: array<vec4<f32>, ${(TK * TILE) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(TK * TILE) / 4}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let m = u32(params[0]);
  let k = u32(params[1]);
  let n = u32(params[2]);
  let aOff = wid.z * u32(params[3]);
  let bOff = wid.z * u32(params[4]);
  let cOff = wid.z * m * n;
  let transA = params[5] != 0;
  let transB = params[6] != 0;
  let row0 = wid.y * ${TILE}u;
  let col0 = wid.x * ${TILE}u;
  let t = lid.y * 16u + lid.x;
  var acc: array<vec4<f32>, 16>;
  // thread t loads A[row0 + t/2][k0 + (t%2)*4 .. +4] and B[k0 + t/32][col0 + (t%32)*4 .. +4]
  let ar = t / 2u;
  let ac = (t % 2u) * 4u;
  let br = t / 32u;
  let bc = (t % 32u) * 4u;
  for (var k0 = 0u; k0 < k; k0 += ${TK}u) {
    let gr = row0 + ar;
    for (var q = 0u; q < 4u; q++) {
      let gc = k0 + ac + q;
      let r = min(gr, m - 1u);
      let c = min(gc, k - 1u);
      let v = select(0.0, A[aOff + select(r * k + c, c * m + r, transA)], gr < m && gc < k);
      let idx = (ac + q) * ${TILE}u + ar;
      As[idx / 4u][idx % 4u] = v;
    }
    let gbr = k0 + br;
    var bv: vec4<f32>;
    for (var q = 0u; q < 4u; q++) {
      let gbc = col0 + bc + q;
      let r = min(gbr, k - 1u);
      let c = min(gbc, n - 1u);
      bv[q] = select(0.0, B[bOff + select(r * n + c, c * k + r, transB)], gbr < k && gbc < n);
    }
    Bs[(br * ${TILE}u + bc) / 4u] = bv;
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk++) {
      let a0 = As[(kk * ${TILE}u + lid.y * 8u) / 4u];
      let a1 = As[(kk * ${TILE}u + lid.y * 8u) / 4u + 1u];
      let b0 = Bs[(kk * ${TILE}u + lid.x * 8u) / 4u];
      let b1 = Bs[(kk * ${TILE}u + lid.x * 8u) / 4u + 1u];
      let a = array<f32, 8>(a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w);
      for (var r = 0u; r < 8u; r++) {
        acc[r * 2u] += a[r] * b0;
        acc[r * 2u + 1u] += a[r] * b1;
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 8u; r++) {
    let gr = row0 + lid.y * 8u + r;
    if (gr >= m) { continue; }
    for (var h = 0u; h < 2u; h++) {
      let v = acc[r * 2u + h];
      for (var q = 0u; q < 4u; q++) {
        let gc = col0 + lid.x * 8u + h * 4u + q;
        if (gc < n) { C[cOff + gr * n + gc] = v[q]; }
      }
    }
  }
}`;
}

/** out[offset + view position of i] += src[i]. meta: size, ndim, offset, shape[ndim], strides[ndim]. */
export function viewAddSource(type: DType): string {
  const t = wgslType(type);
  return `
@group(0) @binding(0) var<storage, read_write> out: array<${t}>;
@group(0) @binding(1) var<storage, read> src: array<${t}>;
@group(0) @binding(2) var<storage, read> params: array<i32>;
${INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearId(gid, nwg);
  if (i >= u32(params[0])) { return; }
  let ndim = params[1];
  var p = params[2];
  var rem = i32(i);
  for (var d = ndim - 1; d >= 0; d--) {
    let s = params[3 + d];
    p += (rem % s) * params[3 + ndim + d];
    rem = rem / s;
  }
  out[u32(p)] = out[u32(p)] + src[i];
}`;
}

/**
 * gather (scatter = false): out[i] = x[position of i with index[i] along dim];
 * scatterAdd (scatter = true): out[o] = sum of src[i] over i whose index along
 * dim equals o's coordinate. meta: size, ndim, dim, indexShape[ndim], otherShape[ndim].
 */
export function gatherSource(type: DType, scatter: boolean): string {
  const t = wgslType(type);
  const body = scatter
    ? `
  // o decomposes by the output shape; sum the src entries that point at it
  var coord: array<i32, 8>;
  var rem = i32(i);
  for (var d = ndim - 1; d >= 0; d--) { let s = params[3 + ndim + d]; coord[d] = rem % s; rem = rem / s; }
  for (var d = 0; d < ndim; d++) { if (d != dim && coord[d] >= params[3 + d]) { out[i] = ${t}(0); return; } }
  var acc = ${t}(0);
  for (var j = 0; j < params[3 + dim]; j++) {
    var q = 0;
    for (var d = 0; d < ndim; d++) { q = q * params[3 + d] + select(coord[d], j, d == dim); }
    if (index[q] == coord[dim]) { acc += src[q]; }
  }
  out[i] = acc;`
    : `
  var coord: array<i32, 8>;
  var rem = i32(i);
  for (var d = ndim - 1; d >= 0; d--) { let s = params[3 + d]; coord[d] = rem % s; rem = rem / s; }
  var p = 0;
  for (var d = 0; d < ndim; d++) { p = p * params[3 + ndim + d] + select(coord[d], index[i], d == dim); }
  out[i] = src[p];`;
  return `
@group(0) @binding(0) var<storage, read_write> out: array<${t}>;
@group(0) @binding(1) var<storage, read> src: array<${t}>;
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read> params: array<i32>;
${INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearId(gid, nwg);
  if (i >= u32(params[0])) { return; }
  let ndim = params[1];
  let dim = params[2];
  ${body}
}`;
}
