/**
 * Every tensor op: its shape rule, its forward (backend primitives) and its
 * gradient (other tensor ops) in one place. Composite ops (mean, softmax,
 * crossEntropy, ...) are written in terms of these and need no gradient.
 */
import { getBackend, type BinaryOp, type DType, type ElementwiseOp, type UnaryOp, type View } from "../backend/backend";
import { isGradEnabled, noGrad, record } from "./autograd";
import { Tensor as TensorClass, fromValues, isFloat, type Device, type TensorLike } from "./tensor";

// Inside the ops every device is the same: a tensor of any device.
type Tensor = TensorClass<Device>;
const Tensor = TensorClass;
import { broadcastShapes, broadcastStrides, contiguousStrides, fmt, normDim, numel, sameShape, type Shape } from "./shape";

// ---------------------------------------------------------------- helpers

function checkDevices(op: string, ts: Tensor[]): Device {
  const device = ts[0].device;
  for (const t of ts) {
    if (t.device !== device) {
      throw new Error(`${op}: tensors are on different devices (${device} and ${t.device}); move one with .to("${device}")`);
    }
  }
  return device;
}

function requireFloat(op: string, t: Tensor): void {
  if (!isFloat(t.dtype)) throw new TypeError(`${op}: needs a floating-point tensor, got ${t.dtype} (convert with .float())`);
}

/** The dtype of an arithmetic result (numbers adapt to the tensor, as in torch). */
function promote(a: TensorLike, b: TensorLike): DType {
  const kind = (x: TensorLike): DType => (typeof x === "number" ? (Number.isInteger(x) ? "int32" : "float32") : x.dtype);
  const [ka, kb] = [kind(a), kind(b)];
  if (ka === "float64" || kb === "float64") {
    // A plain number never widens float32 to float64.
    if (typeof a === "number") return kb === "float64" ? "float64" : "float32";
    if (typeof b === "number") return ka === "float64" ? "float64" : "float32";
    return "float64";
  }
  if (isFloat(ka) || isFloat(kb)) {
    if (typeof a === "number" && b instanceof Tensor && isFloat(b.dtype)) return b.dtype;
    if (typeof b === "number" && a instanceof Tensor && isFloat(a.dtype)) return a.dtype;
    return "float32";
  }
  return "int32";
}

/** A number as a 0-d tensor of `dtype` next to `like`. */
function lift(x: TensorLike, dtype: DType, device: Device): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x !== "number") throw new TypeError(`expected a Tensor or a number, got ${typeof x}`);
  return fromValues([x], [], dtype, device);
}

const viewAs = (t: Tensor, shape: Shape): View =>
  sameShape(t.shape, shape)
    ? { storage: t._storage, strides: [], offset: 0, contiguous: true }
    : { storage: t._storage, strides: broadcastStrides(t.shape, shape), offset: 0 };

/** Elementwise primitive over broadcast inputs. */
function map(op: ElementwiseOp, inputs: Tensor[], shape: Shape, dtype: DType): Tensor {
  const device = checkDevices(op, inputs);
  const backend = getBackend(device);
  // Convert inputs to the result's dtype (comparisons and where keep theirs).
  const storage = backend.elementwise(op, inputs.map((t) => viewAs(t, shape)), shape, dtype);
  return new Tensor(storage, shape, device);
}

/** Sum `g` down to `shape` (undoing a broadcast). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  return reshape(sum(g, axes, true), shape);
}

// ---------------------------------------------------------------- elementwise

/** A unary op with its gradient. @internal */
export function unary(name: string, op: UnaryOp, x: Tensor, grad: (g: Tensor, x: Tensor, out: Tensor) => Tensor, float = true): Tensor {
  if (float) requireFloat(op, x);
  const out = map(op, [x], x.shape, x.dtype === "bool" && op !== "copy" ? "int32" : x.dtype);
  return record(out, `${name}Backward`, [x], (g) => [grad(g, x, out)], [x, out]);
}

export const neg = (x: Tensor): Tensor => unary("Neg", "neg", x, (g) => neg(g), false);
export const exp = (x: Tensor): Tensor => unary("Exp", "exp", x, (g, _x, out) => mul(g, out));
export const log = (x: Tensor): Tensor => unary("Log", "log", x, (g, x) => div(g, x));
export const sqrt = (x: Tensor): Tensor => unary("Sqrt", "sqrt", x, (g, _x, out) => div(g, mul(out, 2)));
export const abs = (x: Tensor): Tensor => unary("Abs", "abs", x, (g, x) => mul(g, sign(x)), false);
export const sign = (x: Tensor): Tensor => unary("Sign", "sign", x, (g) => mul(g, 0), false);
export const tanh = (x: Tensor): Tensor => unary("Tanh", "tanh", x, (g, _x, out) => mul(g, sub(1, mul(out, out))));
export const sigmoid = (x: Tensor): Tensor => unary("Sigmoid", "sigmoid", x, (g, _x, out) => mul(g, mul(out, sub(1, out))));
export const relu = (x: Tensor): Tensor => unary("Relu", "relu", x, (g, _x, out) => mul(g, compare("gt", out, 0)), false);

/** The gradient for one side of a binary op, given the output's gradient. */
type SideGrad = (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => Tensor;

function binary(name: string, op: BinaryOp, x: TensorLike, y: TensorLike, gradA: SideGrad, gradB: SideGrad, dtype?: DType): Tensor {
  const like = x instanceof Tensor ? x : y;
  if (!(like instanceof Tensor)) throw new TypeError(`${op}: at least one operand must be a Tensor`);
  const type = dtype ?? promote(x, y);
  const a = lift(x, type, like.device);
  const b = lift(y, type, like.device);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = map(op, [a, b], shape, type);
  // Only the sides that need a gradient compute one.
  return record(
    out,
    `${name}Backward`,
    [a, b],
    (g) => [a.requiresGrad ? sumTo(gradA(g, a, b, out), a.shape) : null, b.requiresGrad ? sumTo(gradB(g, a, b, out), b.shape) : null],
    [a, b],
  );
}

const floatOf = (a: TensorLike, b: TensorLike): DType => (isFloat(promote(a, b)) ? promote(a, b) : "float32");

export const add = (a: TensorLike, b: TensorLike): Tensor => binary("Add", "add", a, b, (g) => g, (g) => g);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary("Sub", "sub", a, b, (g) => g, (g) => neg(g));
export const mul = (a: TensorLike, b: TensorLike): Tensor =>
  binary("Mul", "mul", a, b, (g, _a, b) => mul(g, b), (g, a) => mul(g, a));
export const div = (a: TensorLike, b: TensorLike): Tensor =>
  binary("Div", "div", a, b, (g, _a, b) => div(g, b), (g, a, b) => neg(div(mul(g, a), mul(b, b))), floatOf(a, b));
export const pow = (a: TensorLike, b: TensorLike): Tensor => {
  if (typeof b === "number") {
    // A constant exponent: the usual power rule, with cheap cases for 0, 1 and 2.
    const e = b;
    const powerRule: SideGrad = (g, a) => (e === 0 ? mul(g, 0) : e === 1 ? g : e === 2 ? mul(g, mul(a, 2)) : mul(g, mul(pow(a, e - 1), e)));
    return binary("Pow", "pow", a, b, powerRule, (g) => g, floatOf(a, b));
  }
  return binary(
    "Pow",
    "pow",
    a,
    b,
    // torch's conventions at a zero base: no gradient where b = 0 (for a) or where a = 0 and b >= 0 (for b)
    (g, a, b) => where(compare("eq", b, 0), 0, mul(g, mul(b, pow(a, sub(b, 1))))),
    (g, a, _b, out) => where(compare("eq", a, 0), 0, mul(g, mul(out, log(a)))),
    floatOf(a, b),
  );
};
/** The share of the gradient that goes to `a` in maximum/minimum: 1 where it wins, 1/2 at a tie (as torch). */
function winShare(op: "gt" | "lt", a: Tensor, b: Tensor): Tensor {
  return add(cast(compare(op, a, b), a.dtype), mul(cast(compare("eq", a, b), a.dtype), 0.5));
}
export const maximum = (a: TensorLike, b: TensorLike): Tensor =>
  binary("Maximum", "maximum", a, b, (g, a, b) => mul(g, winShare("gt", a, b)), (g, a, b) => mul(g, winShare("gt", b, a)));
export const minimum = (a: TensorLike, b: TensorLike): Tensor =>
  binary("Minimum", "minimum", a, b, (g, a, b) => mul(g, winShare("lt", a, b)), (g, a, b) => mul(g, winShare("lt", b, a)));

/** A comparison: a bool tensor, no gradient. */
export function compare(op: "lt" | "le" | "gt" | "ge" | "eq" | "ne", x: TensorLike, y: TensorLike): Tensor {
  const like = (x instanceof Tensor ? x : y) as Tensor;
  const type = promote(x, y);
  const a = lift(x, type, like.device);
  const b = lift(y, type, like.device);
  return map(op, [a, b], broadcastShapes(op, a.shape, b.shape), "bool");
}

/** Elements of `a` where `cond` is true, else of `b` (all broadcast). */
export function where(cond: Tensor, x: TensorLike, y: TensorLike): Tensor {
  if (cond.dtype !== "bool") throw new TypeError(`where: the condition must be a bool tensor, got ${cond.dtype}`);
  const like = x instanceof Tensor ? x : y instanceof Tensor ? y : cond;
  const type = x instanceof Tensor || y instanceof Tensor ? promote(x, y) : "float32";
  const a = lift(x, type, like.device);
  const b = lift(y, type, like.device);
  const shape = broadcastShapes("where", cond.shape, a.shape, b.shape);
  const out = map("where", [cond, a.dtype === type ? a : cast(a, type), b.dtype === type ? b : cast(b, type)], shape, type);
  return record(out, "WhereBackward", [a, b], (g) => [
    a.requiresGrad ? sumTo(where(cond, g, 0), a.shape) : null,
    b.requiresGrad ? sumTo(where(cond, 0, g), b.shape) : null,
  ], []);
}

/** Convert dtype; gradients flow between floating types. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const out = new Tensor(x.backend.cast(x._storage, dtype), x.shape, x.device);
  if (!isFloat(dtype)) return out;
  return record(out, "ToCopyBackward", [x], (g) => [cast(g, x.dtype)]);
}

/** A tensor of `shape` filled with `value`. @internal */
export function full(shape: Shape, value: number, dtype: DType, device: Device): Tensor {
  const backend = getBackend(device);
  const one = backend.fromArray([value], dtype);
  return new Tensor(backend.elementwise("copy", [{ storage: one, strides: shape.map(() => 0), offset: 0 }], shape, dtype), shape, device);
}

/** How many elements differ by more than atol + rtol * |b| (an int32 scalar). */
export function closeMismatches(a: Tensor, b: TensorLike, rtol: number, atol: number): Tensor {
  const wide: DType = a.device === "cpu" ? "float64" : "float32";
  const bt = lift(b, a.dtype, a.device);
  const diff = abs(sub(cast(a, wide), cast(bt, wide)));
  const tol = add(mul(abs(cast(bt, wide)), rtol), atol);
  return sum(compare("gt", diff, tol));
}

// ---------------------------------------------------------------- reductions

function reduceAxes(op: string, x: Tensor, dim: number | number[] | undefined): number[] {
  if (dim === undefined) return x.shape.map((_, i) => i);
  const dims = (Array.isArray(dim) ? dim : [dim]).map((d) => normDim(op, d, x.ndim));
  if (new Set(dims).size !== dims.length) throw new RangeError(`${op}: dimension ${fmt(dims)} repeats`);
  return dims.filter((d) => d < x.ndim);
}

const keptShape = (shape: Shape, axes: number[]) => shape.map((d, i) => (axes.includes(i) ? 1 : d));
const droppedShape = (shape: Shape, axes: number[]) => shape.filter((_, i) => !axes.includes(i));

export function sum(x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  const axes = reduceAxes("sum", x, dim);
  const kept = keptShape(x.shape, axes);
  const storage = x.backend.reduce("sum", x._storage, x.shape, axes);
  const out = new Tensor(storage, keepdim ? kept : droppedShape(x.shape, axes), x.device);
  return record(out, "SumBackward", [x], (g) => [expand(reshape(g, kept), x.shape)]);
}

export function mean(x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  requireFloat("mean", x);
  const axes = reduceAxes("mean", x, dim);
  const count = numel(axes.map((a) => x.shape[a]));
  if (count === 0) throw new RangeError(`mean: the reduced dimensions of shape ${fmt(x.shape)} are empty`);
  return div(sum(x, axes, keepdim), count);
}

/**
 * max or min over everything (ties share the gradient) or over one dimension
 * (the gradient goes to the index argmax/argmin reports), as torch does.
 */
export function extreme(op: "max" | "min", x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  const axes = reduceAxes(op, x, dim);
  if (axes.some((a) => x.shape[a] === 0) || x.size === 0) throw new RangeError(`${op}: cannot reduce an empty tensor of shape ${fmt(x.shape)}`);
  const kept = keptShape(x.shape, axes);
  const storage = x.backend.reduce(op, x._storage, x.shape, axes);
  const out = new Tensor(storage, keepdim ? kept : droppedShape(x.shape, axes), x.device);
  const name = op === "max" ? "MaxBackward" : "MinBackward";
  if (dim !== undefined) {
    // the gradient goes to the index argmax reports, found only if a backward needs it
    return record(
      out,
      name,
      [x],
      (g) => {
        const at = argExtreme(op, x, axes[0], true);
        return [new Tensor(g.backend.scatterAdd(reshape(g, kept)._storage, kept, axes[0], at._storage, x.shape), x.shape, x.device)];
      },
      [x],
    );
  }
  return record(
    out,
    name,
    [x],
    (g) => {
      const hit = cast(compare("eq", x, reshape(out, kept)), x.dtype);
      return [div(mul(hit, reshape(g, kept)), sum(hit, axes, true))];
    },
    [x],
  );
}

export function argExtreme(op: "max" | "min", x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  if (x.size === 0) throw new RangeError(`arg${op}: cannot reduce an empty tensor`);
  if (dim === undefined) return argExtreme(op, reshape(x, [-1]), 0, false);
  const axis = normDim(`arg${op}`, dim, x.ndim);
  const storage = x.backend.argReduce(op, x._storage, x.shape, axis);
  const kept = keptShape(x.shape, [axis]);
  return new Tensor(storage, keepdim ? kept : droppedShape(x.shape, [axis]), x.device);
}

/** The Euclidean norm; its gradient x / norm is taken as 0 at the zero vector (as torch). */
export function norm(x: Tensor): Tensor {
  requireFloat("norm", x);
  const out = noGrad(() => sqrt(sum(mul(x, x))));
  return record(out, "NormBackward", [x], (g) => [mul(g, div(x, where(compare("eq", out, 0), 1, out)))], [x]);
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  requireFloat("logSoftmax", x);
  const d = normDim("logSoftmax", dim, x.ndim);
  const shifted = sub(x, extreme("max", x, d, true).detach());
  return sub(shifted, log(sum(exp(shifted), d, true)));
}

export const softmax = (x: Tensor, dim: number): Tensor => exp(logSoftmax(x, dim));

// ---------------------------------------------------------------- products

export function dot(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1 || a.shape[0] !== b.shape[0]) {
    throw new RangeError(`dot: expects two 1-D tensors of the same length, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  return sum(mul(a, b));
}

/**
 * op(a) @ op(b) with equal batch dimensions: the primitive. op(x) is x, or
 * x with its last two dimensions swapped when its flag is set, read in place
 * (no transposed copy), which is also how the gradients are formed.
 */
function bmm(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  const [m, k] = transA ? a.shape.slice(-2).reverse() : a.shape.slice(-2);
  const n = transB ? b.shape[b.ndim - 2] : b.shape[b.ndim - 1];
  const batch = numel(a.shape.slice(0, -2));
  const storage = a.backend.matmul(a._storage, b._storage, batch, m, k, n, m * k, k * n, transA, transB);
  const out = new Tensor(storage, [...a.shape.slice(0, -2), m, n], a.device);
  // C = op(A) op(B): dA = g op(B)^T (transposed back if A was), dB = op(A)^T g (likewise)
  return record(out, "MmBackward", [a, b], (g) => [
    a.requiresGrad ? (transA ? bmm(b, g, transB, true) : bmm(g, b, false, !transB)) : null,
    b.requiresGrad ? (transB ? bmm(g, a, true, transA) : bmm(a, g, !transA, false)) : null,
  ], [a, b]);
}

/** x @ w^T for a weight stored [out, in], as nn.Linear needs (no transposed copy). @internal */
export function matmulTransposed(x: Tensor, w: Tensor): Tensor {
  checkDevices("matmul", [x, w]);
  const k = x.shape[x.ndim - 1];
  if (w.ndim !== 2 || w.shape[1] !== k) {
    throw new RangeError(`matmul: inner dimensions differ: ${fmt(x.shape)} @ ${fmt(w.shape)}^T (${k} vs ${w.shape[1]})`);
  }
  const flat = bmm(reshape(x, [-1, k]), w, false, true);
  return x.ndim === 2 ? flat : reshape(flat, [...x.shape.slice(0, -1), w.shape[0]]);
}

/** Matrix product with torch's rules for 1-D operands and broadcast batch dimensions. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkDevices("matmul", [a, b]);
  if (a.ndim === 0 || b.ndim === 0) throw new RangeError(`matmul: both arguments need at least 1 dimension, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  if (a.dtype !== b.dtype) throw new TypeError(`matmul: dtypes differ (${a.dtype} and ${b.dtype}); convert one with .to()`);
  requireFloat("matmul", a);
  if (a.ndim === 1 && b.ndim === 1) return dot(a, b);
  if (a.ndim === 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.ndim === 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) {
    throw new RangeError(`matmul: inner dimensions differ: ${fmt(a.shape)} @ ${fmt(b.shape)} (${k} vs ${k2})`);
  }
  if (b.ndim === 2) {
    // Fold a's batch into its rows: one big product.
    const flat = bmm(reshape(a, [-1, k]), b);
    return a.ndim === 2 ? flat : reshape(flat, [...a.shape.slice(0, -1), n]);
  }
  const batch = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2));
  return bmm(expand(a, [...batch, m, k]), expand(b, [...batch, k, n]));
}

// ---------------------------------------------------------------- movement

/** A contiguous copy of a strided view of x. */
function gatherView(x: Tensor, shape: Shape, strides: number[], offset: number): Tensor {
  const storage = x.backend.elementwise("copy", [{ storage: x._storage, strides, offset }], shape, x.dtype);
  return new Tensor(storage, shape, x.device);
}

/** Zeros of `shape` with `src` added at the positions of a view. */
function scatterView(src: Tensor, shape: Shape, viewShape: Shape, strides: number[], offset: number): Tensor {
  const zero = full(shape, 0, src.dtype, src.device);
  return new Tensor(src.backend.viewAdd(zero._storage, src._storage, viewShape, strides, offset), shape, src.device);
}

export function reshape(x: Tensor, shape: number[]): Tensor {
  const free = shape.filter((d) => d === -1).length;
  if (free > 1) throw new RangeError(`reshape: only one dimension can be -1, got ${fmt(shape)}`);
  const known = numel(shape.filter((d) => d !== -1));
  const target = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (target.some((d) => !Number.isInteger(d) || d < 0) || numel(target) !== x.size) {
    throw new RangeError(`reshape: shape ${fmt(shape)} is invalid for a tensor of ${x.size} elements (shape ${fmt(x.shape)})`);
  }
  if (sameShape(target, x.shape)) return x;
  const out = new Tensor(x._storage, target, x.device);
  return record(out, "ViewBackward", [x], (g) => [reshape(g, x.shape)]);
}

export function permute(x: Tensor, dims: number[]): Tensor {
  const d = dims.map((v) => normDim("permute", v, x.ndim));
  if (d.length !== x.ndim || new Set(d).size !== d.length) {
    throw new RangeError(`permute: ${fmt(dims)} is not a permutation of the ${x.ndim} dimensions of ${fmt(x.shape)}`);
  }
  if (d.every((v, i) => v === i)) return x;
  const own = contiguousStrides(x.shape);
  const out = gatherView(x, d.map((i) => x.shape[i]), d.map((i) => own[i]), 0);
  const inverse = d.map((_, i) => d.indexOf(i));
  return record(out, "PermuteBackward", [x], (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const a = normDim("transpose", dim0, x.ndim);
  const b = normDim("transpose", dim1, x.ndim);
  const dims = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, dims);
}

export function expand(x: Tensor, shape: number[]): Tensor {
  const lead = shape.length - x.ndim;
  const target = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead] : d));
  if (lead < 0 || target.some((d, i) => i >= lead && x.shape[i - lead] !== 1 && x.shape[i - lead] !== d)) {
    throw new RangeError(`expand: cannot expand shape ${fmt(x.shape)} to ${fmt(shape)}`);
  }
  if (sameShape(target, x.shape)) return x;
  const out = gatherView(x, target, broadcastStrides(x.shape, target), 0);
  return record(out, "ExpandBackward", [x], (g) => [sumTo(g, x.shape)]);
}

export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normDim("squeeze", dim, x.ndim);
  return x.shape[d] === 1 ? reshape(x, x.shape.filter((_, i) => i !== d)) : x;
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim("unsqueeze", dim, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

export type IndexSpec = number | string | [number?, number?, number?] | null;

/** Parse one index spec against a dimension of size n: [start, count, step] or a picked index. */
function parseSpec(spec: IndexSpec, n: number, dim: number): { start: number; count: number; step: number; drop: boolean } {
  if (typeof spec === "number") {
    if (!Number.isInteger(spec) || spec < -n || spec >= n) {
      throw new RangeError(`index: index ${spec} is out of range for dimension ${dim} of size ${n}`);
    }
    return { start: spec < 0 ? spec + n : spec, count: 1, step: 1, drop: true };
  }
  let parts: Array<number | undefined>;
  if (spec === null) parts = [];
  else if (typeof spec === "string") {
    const bits = spec.split(":");
    if (bits.length > 3 || bits.some((b) => b.trim() !== "" && !/^-?\d+$/.test(b.trim()))) {
      throw new RangeError(`index: "${spec}" is not a slice like "1:3", ":2", "::-1"`);
    }
    if (bits.length === 1) return parseSpec(Number(bits[0]), n, dim);
    parts = bits.map((b) => (b.trim() === "" ? undefined : Number(b)));
  } else parts = spec;
  const step = parts[2] ?? 1;
  if (step === 0) throw new RangeError("index: slice step cannot be zero");
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  const norm = (v: number) => (v < 0 ? v + n : v);
  let start: number;
  let stop: number;
  if (step > 0) {
    start = parts[0] === undefined ? 0 : clamp(norm(parts[0]), 0, n);
    stop = parts[1] === undefined ? n : clamp(norm(parts[1]), 0, n);
  } else {
    start = parts[0] === undefined ? n - 1 : clamp(norm(parts[0]), -1, n - 1);
    stop = parts[1] === undefined ? -1 : clamp(norm(parts[1]), -1, n - 1);
  }
  const count = Math.max(0, Math.ceil((stop - start) / step));
  return { start, count, step, drop: false };
}

export function index(x: Tensor, specs: IndexSpec[]): Tensor {
  if (specs.length > x.ndim) throw new RangeError(`index: ${specs.length} indices for a tensor with ${x.ndim} dimensions`);
  const own = contiguousStrides(x.shape);
  let offset = 0;
  const viewShape: number[] = [];
  const strides: number[] = [];
  const outShape: number[] = [];
  x.shape.forEach((n, d) => {
    const s = parseSpec(d < specs.length ? specs[d] : null, n, d);
    offset += s.start * own[d];
    viewShape.push(s.count);
    strides.push(s.step * own[d]);
    if (!s.drop) outShape.push(s.count);
  });
  if (numel(viewShape) === 0) return full(outShape, 0, x.dtype, x.device);
  const out = reshape(gatherView(x, viewShape, strides, offset).detach(), outShape).detach();
  return record(out, "IndexBackward", [x], (g) => [scatterView(reshape(g, viewShape), x.shape, viewShape, strides, offset)]);
}

function checkIndex(op: string, index: Tensor, size: number, dim: number, what = "index"): void {
  if (index.dtype !== "int32") throw new TypeError(`${op}: the ${what} must be an int32 tensor, got ${index.dtype}`);
  // Values are checked where they can be read synchronously (GPU kernels clamp reads instead).
  if (index.device !== "cpu") return;
  const values = index.data() as Int32Array;
  for (const v of values) {
    if (v < 0 || v >= size) throw new RangeError(`${op}: ${what} ${v} is out of range for dimension ${dim} of size ${size}`);
  }
}

export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = normDim("gather", dim, x.ndim);
  checkDevices("gather", [x, index]);
  if (index.ndim !== x.ndim || index.shape.some((s, i) => i !== d && s > x.shape[i])) {
    throw new RangeError(`gather: index of shape ${fmt(index.shape)} does not fit a tensor of shape ${fmt(x.shape)} along dimension ${d}`);
  }
  checkIndex("gather", index, x.shape[d], d);
  const out = new Tensor(x.backend.gather(x._storage, x.shape, d, index._storage, index.shape), [...index.shape], x.device);
  return record(out, "GatherBackward", [x], (g) => [
    new Tensor(g.backend.scatterAdd(g._storage, index.shape, d, index._storage, x.shape), x.shape, x.device),
  ]);
}

export function cat(tensors: Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("cat: needs at least one tensor");
  const first = tensors[0];
  checkDevices("cat", tensors);
  const d = normDim("cat", dim, first.ndim);
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new RangeError(`cat: shapes ${tensors.map((t) => fmt(t.shape)).join(", ")} differ outside dimension ${d}`);
    }
  }
  const dtype = tensors.map((t) => t.dtype).reduce((a, b) => (a === b ? a : promote(full([], 0, a, first.device), full([], 0, b, first.device))));
  const shape = [...first.shape];
  shape[d] = tensors.reduce((acc, t) => acc + t.shape[d], 0);
  const own = contiguousStrides(shape);
  let outTensor = full(shape, 0, dtype, first.device);
  let at = 0;
  const starts: number[] = [];
  for (const t of tensors) {
    starts.push(at);
    if (t.size > 0) {
      outTensor = new Tensor(t.backend.viewAdd(outTensor._storage, cast(t, dtype).detach()._storage, t.shape, own, at * own[d]), shape, first.device);
    }
    at += t.shape[d];
  }
  return record(outTensor, "CatBackward", tensors, (g) =>
    tensors.map((t, i) => (t.requiresGrad ? index(g, [...Array(d).fill(null), [starts[i], starts[i] + t.shape[d]]]) : null)),
  );
}

export function stack(tensors: Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("stack: needs at least one tensor");
  const shape = tensors[0].shape;
  for (const t of tensors) {
    if (!sameShape(t.shape, shape)) throw new RangeError(`stack: all tensors need the same shape, got ${tensors.map((t) => fmt(t.shape)).join(", ")}`);
  }
  const d = normDim("stack", dim, shape.length + 1);
  return cat(tensors.map((t) => unsqueeze(t, d)), d);
}

// ---------------------------------------------------------------- losses

/** Mean squared error; the shapes must match (a broadcast here is almost always a bug). */
export function mseLoss(input: Tensor, target: Tensor): Tensor {
  if (!sameShape(input.shape, target.shape)) {
    throw new RangeError(`mseLoss: input shape ${fmt(input.shape)} and target shape ${fmt(target.shape)} differ (reshape one so they match)`);
  }
  const d = sub(input, target);
  return mean(mul(d, d));
}

/** Cross-entropy of logits [N, C] against int32 class indices [N]. */
export function crossEntropy(logits: Tensor, target: Tensor): Tensor {
  if (logits.ndim !== 2 || target.ndim !== 1 || target.shape[0] !== logits.shape[0]) {
    throw new RangeError(`crossEntropy: expects logits [N, C] and targets [N], got ${fmt(logits.shape)} and ${fmt(target.shape)}`);
  }
  checkIndex("crossEntropy", target, logits.shape[1], 1, "target");
  return neg(mean(gather(logSoftmax(logits, 1), 1, unsqueeze(target, 1))));
}

// ---------------------------------------------------------------- in place

/** Replace t's values by `value`'s (same shape): the in-place ops' common path. */
export function assign<T extends Tensor>(t: T, op: string, value: Tensor): T {
  if (isGradEnabled() && t.requiresGrad) {
    throw new Error(
      t.isLeaf
        ? `${op}: a leaf tensor that requires grad cannot be changed in place while gradients are recorded; do it inside noGrad(() => ...)`
        : `${op}: in-place changes to a tensor inside the graph are not supported; use the out-of-place op instead`,
    );
  }
  if (!sameShape(value.shape, t.shape)) {
    throw new RangeError(`${op}: the result has shape ${fmt(value.shape)} but the tensor has shape ${fmt(t.shape)}`);
  }
  // Written into the tensor's own memory: tensors sharing it (detach, reshape) see the change.
  t.backend.copyInto(t._storage, cast(value, t.dtype)._storage);
  t._storage.version++;
  return t;
}
