/**
 * Every tensor op, written once: its checks, its forward (the engine's
 * primitives), its gradient and its tangent (both other ops) side by side.
 * The gradient is the vector-Jacobian product that reverse mode needs; the
 * tangent rule is the Jacobian-vector product that forward mode (jvp) needs.
 * For elementwise ops the two are one formula (the Jacobian is diagonal), so
 * unary and binary ops derive the tangent from the gradient. Gradients and
 * tangents are written with recorded ops, so they can be differentiated
 * again (grad of grad, Hessians). Composite ops
 * (mean, softmax, crossEntropy, ...) are written in terms of others and need
 * no gradient of their own. Each op takes its tensor first, so that the op
 * table (./table) makes the method `x.op(...)` and the function `op(x, ...)`
 * from the same code. No device is named here: the engine (./engine) does
 * the dispatch.
 */
import type { BinaryOp, DType, UnaryOp } from "../backend/backend";
import { enableGrad, noGrad, isGradEnabled, runBackward } from "./autograd";
import { formatTensor } from "./format";
import * as engine from "./engine";
import { capability, checkDevices, lift, promote, record, requireFloat, tracking } from "./engine";
import { forwardActive, hasTangents } from "./forward";
import { Tensor as TensorClass, isFloat, type Device, type NestedArray, type TensorLike } from "./tensor";
import { broadcastShapes, contiguousStrides, fmt, normDim, numel, sameShape, type Shape } from "./shape";

// Inside the ops every device is the same: a tensor of any device.
type Tensor = TensorClass<Device>;
const Tensor = TensorClass;

/** `f(1, 2)`, `f([1, 2])`: shape or dimension arguments, spread or as one list. */
const list = (args: Array<number | number[]>): number[] => (args.length === 1 && Array.isArray(args[0]) ? args[0] : (args as number[]));

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

/**
 * A batched tangent (its first `lead` dimensions index the directions)
 * reshaped so that it broadcasts against tensors of rank `ndim`: ones
 * inserted after the batch dimensions.
 */
function aligned(t: Tensor, lead: number, ndim: number): Tensor {
  const own = t.ndim - lead;
  if (lead === 0 || own === ndim) return t;
  return reshape(t, [...t.shape.slice(0, lead), ...Array<number>(ndim - own).fill(1), ...t.shape.slice(lead)]);
}
const batchOf = (t: Tensor, lead: number): number[] => t.shape.slice(0, lead);

// ---------------------------------------------------------------- elementwise

/** A unary op with its gradient g * f'(x), which is also its tangent rule (t * f'(x)). */
function unary(name: string, op: UnaryOp, x: Tensor, grad: (g: Tensor, x: Tensor, out: Tensor) => Tensor, float = true): Tensor {
  if (float) requireFloat(op, x);
  const inputs = [x];
  const out = engine.elementwise(op, inputs, x.shape, x.dtype === "bool" && op !== "copy" ? "int32" : x.dtype);
  if (!tracking(inputs)) return out;
  return record(out, `${name}Backward`, inputs, (g) => [grad(g, x, out)], [x, out], ([t]) => grad(t!, x, out));
}

export const neg = (x: Tensor): Tensor => unary("Neg", "neg", x, (g) => neg(g), false);
export const exp = (x: Tensor): Tensor => unary("Exp", "exp", x, (g, _x, out) => mul(g, out));
export const log = (x: Tensor): Tensor => unary("Log", "log", x, (g, x) => div(g, x));
export const log1p = (x: Tensor): Tensor => unary("Log1p", "log1p", x, (g, x) => div(g, add(x, 1)));
export const sqrt = (x: Tensor): Tensor => unary("Sqrt", "sqrt", x, (g, _x, out) => div(g, mul(out, 2)));
export const abs = (x: Tensor): Tensor => unary("Abs", "abs", x, (g, x) => mul(g, sign(x)), false);
export const sign = (x: Tensor): Tensor => unary("Sign", "sign", x, (g) => mul(g, 0), false);
export const tanh = (x: Tensor): Tensor => unary("Tanh", "tanh", x, (g, _x, out) => mul(g, sub(1, mul(out, out))));
export const sigmoid = (x: Tensor): Tensor => unary("Sigmoid", "sigmoid", x, (g, _x, out) => mul(g, mul(out, sub(1, out))));
// (relu's output is never NaN or negative, so its sign is 1 where it passes the gradient and 0 elsewhere: an elementwise chain that fuses)
export const relu = (x: Tensor): Tensor => unary("Relu", "relu", x, (g, _x, out) => mul(g, sign(out)), false);
/** A copy of the values (recorded, so gradients flow through it). */
export const clone = (x: Tensor): Tensor => unary("Clone", "copy", x, (g) => g, false);

/** The gradient for one side of a binary op, given the output's gradient. */
type SideGrad = (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => Tensor;

function binary(name: string, op: BinaryOp, x: TensorLike, y: TensorLike, gradA: SideGrad, gradB: SideGrad, dtype?: DType): Tensor {
  const like = x instanceof Tensor ? x : y;
  if (!(like instanceof Tensor)) throw new TypeError(`${op}: at least one operand must be a Tensor`);
  const type = dtype ?? promote(x, y);
  const a = lift(x, type, like.device);
  const b = lift(y, type, like.device);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const inputs = [a, b];
  const out = engine.elementwise(op, inputs, shape, type);
  if (!tracking(inputs)) return out;
  // Only the sides that need a gradient compute one; the tangent is the sum of the sides' (broadcast).
  return record(
    out,
    `${name}Backward`,
    inputs,
    (g) => [a.requiresGrad ? sumTo(gradA(g, a, b, out), a.shape) : null, b.requiresGrad ? sumTo(gradB(g, a, b, out), b.shape) : null],
    [a, b],
    ([ta, tb], lead) => {
      const sa = ta === null ? null : gradA(aligned(ta, lead, shape.length), a, b, out);
      const sb = tb === null ? null : gradB(aligned(tb, lead, shape.length), a, b, out);
      const t = sa === null ? sb! : sb === null ? sa : add(sa, sb);
      const full = [...batchOf((ta ?? tb)!, lead), ...shape];
      return sameShape(t.shape, full) ? t : expand(aligned(t, lead, shape.length), full);
    },
  );
}

const floatOf = (a: TensorLike, b: TensorLike): DType => (isFloat(promote(a, b)) ? promote(a, b) : "float32");

export const add = (a: TensorLike, b: TensorLike): Tensor => binary("Add", "add", a, b, (g) => g, (g) => g);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary("Sub", "sub", a, b, (g) => g, (g) => neg(g));
/** `o - x`. */
export const rsub = (x: Tensor, o: TensorLike): Tensor => sub(o, x);
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
function compare(op: "lt" | "le" | "gt" | "ge" | "eq" | "ne", x: TensorLike, y: TensorLike): Tensor {
  const like = (x instanceof Tensor ? x : y) as Tensor;
  const type = promote(x, y);
  const a = lift(x, type, like.device);
  const b = lift(y, type, like.device);
  return engine.elementwise(op, [a, b], broadcastShapes(op, a.shape, b.shape), "bool");
}
export const lt = (x: Tensor, o: TensorLike): Tensor => compare("lt", x, o);
export const le = (x: Tensor, o: TensorLike): Tensor => compare("le", x, o);
export const gt = (x: Tensor, o: TensorLike): Tensor => compare("gt", x, o);
export const ge = (x: Tensor, o: TensorLike): Tensor => compare("ge", x, o);
export const eq = (x: Tensor, o: TensorLike): Tensor => compare("eq", x, o);
export const ne = (x: Tensor, o: TensorLike): Tensor => compare("ne", x, o);

/** Elements of `a` where `cond` is true, else of `b` (all broadcast). */
export function where<D extends Device>(cond: TensorClass<D>, x: TensorClass<D> | number, y: TensorClass<D> | number): TensorClass<D> {
  return whereAny(cond, x, y) as TensorClass<D>;
}

function whereAny(cond: Tensor, x: TensorLike, y: TensorLike): Tensor {
  if (cond.dtype !== "bool") throw new TypeError(`where: the condition must be a bool tensor, got ${cond.dtype}`);
  const like = x instanceof Tensor ? x : y instanceof Tensor ? y : cond;
  const type = x instanceof Tensor || y instanceof Tensor ? promote(x, y) : "float32";
  const a = lift(x, type, like.device);
  const b = lift(y, type, like.device);
  const shape = broadcastShapes("where", cond.shape, a.shape, b.shape);
  const out = engine.elementwise("where", [cond, a.dtype === type ? a : cast(a, type), b.dtype === type ? b : cast(b, type)], shape, type);
  return record(
    out,
    "WhereBackward",
    [a, b],
    (g) => [a.requiresGrad ? sumTo(whereAny(cond, g, 0), a.shape) : null, b.requiresGrad ? sumTo(whereAny(cond, 0, g), b.shape) : null],
    [],
    ([ta, tb], lead) => whereAny(cond, ta === null ? 0 : aligned(ta, lead, shape.length), tb === null ? 0 : aligned(tb, lead, shape.length)),
  );
}

/** Convert dtype; gradients flow between floating types. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const out = engine.convert(x, dtype);
  if (!isFloat(dtype)) return out;
  return record(out, "ToCopyBackward", [x], (g) => [cast(g, x.dtype)], [], ([t]) => cast(t!, dtype));
}

const full = engine.full;

/** How many elements differ by more than atol + rtol * |b| (an int32 scalar). */
export function closeMismatches(a: Tensor, b: TensorLike, rtol: number, atol: number): Tensor {
  const wide: DType = capability(a.device, "float64") ? "float64" : "float32";
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
  const out = engine.reduce("sum", x, axes, keepdim ? kept : droppedShape(x.shape, axes));
  return record(out, "SumBackward", [x], (g) => [expand(reshape(g, kept), x.shape)], [], ([t], lead) => sum(t!, axes.map((a) => a + lead), keepdim));
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
function extreme(op: "max" | "min", x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  const axes = reduceAxes(op, x, dim);
  if (axes.some((a) => x.shape[a] === 0) || x.size === 0) throw new RangeError(`${op}: cannot reduce an empty tensor of shape ${fmt(x.shape)}`);
  const kept = keptShape(x.shape, axes);
  const out = engine.reduce(op, x, axes, keepdim ? kept : droppedShape(x.shape, axes));
  const name = op === "max" ? "MaxBackward" : "MinBackward";
  if (dim !== undefined) {
    // the gradient goes to the index argmax reports, found only if a backward needs it
    return record(
      out,
      name,
      [x],
      (g) => [scatterAdd(reshape(g, kept), axes[0], argExtreme(op, x, axes[0], true), x.shape)],
      [x],
      ([t], lead) => reshape(gather(t!, axes[0] + lead, batched(argExtreme(op, x, axes[0], true), t!, lead)), [...batchOf(t!, lead), ...out.shape]),
    );
  }
  const hit = () => cast(compare("eq", x, reshape(out, kept)), x.dtype);
  return record(
    out,
    name,
    [x],
    (g) => {
      const h = hit();
      return [div(mul(h, reshape(g, kept)), sum(h, axes, true))];
    },
    [x],
    ([t], lead) => {
      const h = hit();
      return reshape(div(sum(mul(h, t!), axes.map((a) => a + lead), true), sum(h, axes, true)), [...batchOf(t!, lead), ...out.shape]);
    },
  );
}

function argExtreme(op: "max" | "min", x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  if (x.size === 0) throw new RangeError(`arg${op}: cannot reduce an empty tensor`);
  if (dim === undefined) return argExtreme(op, reshape(x, [-1]), 0, false);
  const axis = normDim(`arg${op}`, dim, x.ndim);
  const kept = keptShape(x.shape, [axis]);
  return engine.argReduce(op, x, axis, keepdim ? kept : droppedShape(x.shape, [axis]));
}

/** max or min over everything (ties share the gradient) or over one dimension (the gradient goes where argmax points). */
export const max = (x: Tensor, dim?: number, keepdim = false): Tensor => extreme("max", x, dim, keepdim);
export const min = (x: Tensor, dim?: number, keepdim = false): Tensor => extreme("min", x, dim, keepdim);
export const argmax = (x: Tensor, dim?: number, keepdim = false): Tensor => argExtreme("max", x, dim, keepdim);
export const argmin = (x: Tensor, dim?: number, keepdim = false): Tensor => argExtreme("min", x, dim, keepdim);

/** The Euclidean norm; its gradient x / norm is taken as 0 at the zero vector (as torch). */
export function norm(x: Tensor): Tensor {
  requireFloat("norm", x);
  const out = engine.detached(noGrad(() => sqrt(sum(mul(x, x)))));
  const unit = () => div(x, where(compare("eq", out, 0), 1, out));
  return record(out, "NormBackward", [x], (g) => [mul(g, unit())], [x], ([t], lead) => sum(mul(t!, unit()), x.shape.map((_, i) => i + lead)));
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  requireFloat("logSoftmax", x);
  const d = normDim("logSoftmax", dim, x.ndim);
  const shifted = sub(x, engine.detached(extreme("max", x, d, true)));
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
  const out = engine.matmul(a, b, { batch, m, k, n, transA, transB }, [...a.shape.slice(0, -2), m, n]);
  // C = op(A) op(B): dA = g op(B)^T (transposed back if A was), dB = op(A)^T g (likewise)
  // and its tangent op(tA) op(B) + op(A) op(tB)
  return record(
    out,
    "MmBackward",
    [a, b],
    (g) => [
      a.requiresGrad ? (transA ? bmm(b, g, transB, true) : bmm(g, b, false, !transB)) : null,
      b.requiresGrad ? (transB ? bmm(g, a, true, transA) : bmm(a, g, !transA, false)) : null,
    ],
    [a, b],
    ([ta, tb], lead) => {
      const sa = ta === null ? null : lead === 0 ? bmm(ta, b, transA, transB) : batchedLeft(ta, b, transA, transB);
      const sb = tb === null ? null : lead === 0 ? bmm(a, tb, transA, transB) : transpose(batchedLeft(tb, a, !transB, !transA), -2, -1);
      return sa === null ? sb : sb === null ? sa : add(sa, sb);
    },
  );
}

/**
 * op(t) @ op(w) for a batched tangent t (one more leading dimension than w
 * has batch dimensions), op transposing where its flag is set. A 2-D w folds
 * the batch into the rows of one product; otherwise w is expanded to the
 * batch. (The right-hand side's tangent is op(a) op(tb) = (op(tb)^T op(a)^T)^T.)
 */
function batchedLeft(t: Tensor, w: Tensor, tT: boolean, wT: boolean): Tensor {
  if (w.ndim === 2) {
    const left = tT ? transpose(t, -2, -1) : t; // [..., m, k]
    const [m, k] = left.shape.slice(-2);
    const flat = bmm(reshape(left, [-1, k]), w, false, wT);
    return reshape(flat, [...left.shape.slice(0, -2), m, flat.shape[1]]);
  }
  return bmm(t, expand(w, [t.shape[0], ...w.shape]), tT, wT);
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

/**
 * Zeros of `shape` with `src` added at the positions of a view (`strides`
 * and `offset` in the row-major layout of `shape`): index's gradient.
 */
function scatterView(src: Tensor, shape: Shape, viewShape: Shape, strides: number[], offset: number): Tensor {
  const out = engine.viewAdd(full(shape, 0, src.dtype, src.device), src, viewShape, strides, offset);
  return record(out, "ScatterViewBackward", [src], (g) => [takeView(g, viewShape, strides, offset)], [], ([t], lead) =>
    lead === 0 ? scatterView(t!, shape, viewShape, strides, offset) : scatterView(t!, [t!.shape[0], ...shape], [t!.shape[0], ...viewShape], [numel(shape), ...strides], offset),
  );
}

/** The elements of `x` at a view (`strides` and `offset` in its row-major layout): scatterView's gradient. */
function takeView(x: Tensor, viewShape: Shape, strides: number[], offset: number): Tensor {
  const out = engine.view(engine.dense(x), viewShape, strides, offset);
  return record(out, "TakeViewBackward", [x], (g) => [scatterView(g, x.shape, viewShape, strides, offset)], [], ([t], lead) =>
    lead === 0 ? takeView(t!, viewShape, strides, offset) : takeView(t!, [t!.shape[0], ...viewShape], [x.size, ...strides], offset),
  );
}

export function reshape(x: Tensor, ...dims: Array<number | number[]>): Tensor {
  const shape = list(dims);
  const free = shape.filter((d) => d === -1).length;
  if (free > 1) throw new RangeError(`reshape: only one dimension can be -1, got ${fmt(shape)}`);
  const known = numel(shape.filter((d) => d !== -1));
  const target = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (target.some((d) => !Number.isInteger(d) || d < 0) || numel(target) !== x.size) {
    throw new RangeError(`reshape: shape ${fmt(shape)} is invalid for a tensor of ${x.size} elements (shape ${fmt(x.shape)})`);
  }
  if (sameShape(target, x.shape)) return x;
  // A view where the elements are in order (as PyTorch's reshape), else a copy.
  const out = engine.sharing(engine.isContiguous(x) ? x : engine.dense(x), target);
  return record(out, "ViewBackward", [x], (g) => [reshape(g, x.shape)], [], ([t], lead) => reshape(t!, [...batchOf(t!, lead), ...target]));
}

/** x's memory seen with new sizes and strides (squeeze, unsqueeze): a view. */
function restride(x: Tensor, shape: Shape, strides: number[]): Tensor {
  const out = engine.view(x, shape, strides, engine.offsetOf(x));
  return record(out, "ViewBackward", [x], (g) => [reshape(g, x.shape)], [], ([t], lead) => reshape(t!, [...batchOf(t!, lead), ...shape]));
}

/** The same as reshape. */
export const view = reshape;
export const flatten = (x: Tensor): Tensor => reshape(x, [-1]);

export function permute(x: Tensor, ...order: Array<number | number[]>): Tensor {
  const dims = list(order);
  const d = dims.map((v) => normDim("permute", v, x.ndim));
  if (d.length !== x.ndim || new Set(d).size !== d.length) {
    throw new RangeError(`permute: ${fmt(dims)} is not a permutation of the ${x.ndim} dimensions of ${fmt(x.shape)}`);
  }
  if (d.every((v, i) => v === i)) return x;
  const own = engine.stridesOf(x);
  const out = engine.view(x, d.map((i) => x.shape[i]), d.map((i) => own[i]), engine.offsetOf(x));
  const inverse = d.map((_, i) => d.indexOf(i));
  return record(out, "PermuteBackward", [x], (g) => [permute(g, inverse)], [], ([t], lead) => permute(t!, [...batchOf(t!, lead).map((_, i) => i), ...d.map((i) => i + lead)]));
}

/** Swap two dimensions (by default the last two). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normDim("transpose", dim0, x.ndim);
  const b = normDim("transpose", dim1, x.ndim);
  const dims = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, dims);
}

/** The transpose of a 2-D tensor (the dimensions reversed in general). */
export const T = (x: Tensor): Tensor => permute(x, x.shape.map((_, i) => x.ndim - 1 - i));

export function expand(x: Tensor, ...dims: Array<number | number[]>): Tensor {
  const shape = list(dims);
  const lead = shape.length - x.ndim;
  const target = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead] : d));
  if (lead < 0 || target.some((d, i) => i >= lead && x.shape[i - lead] !== 1 && x.shape[i - lead] !== d)) {
    throw new RangeError(`expand: cannot expand shape ${fmt(x.shape)} to ${fmt(shape)}`);
  }
  if (sameShape(target, x.shape)) return x;
  const own = engine.stridesOf(x);
  const strides = target.map((_, i) => (i < lead || x.shape[i - lead] === 1 ? 0 : own[i - lead]));
  const out = engine.view(x, target, strides, engine.offsetOf(x));
  return record(out, "ExpandBackward", [x], (g) => [sumTo(g, x.shape)], [], ([t], lead) => expand(aligned(t!, lead, target.length), [...batchOf(t!, lead), ...target]));
}

export function squeeze(x: Tensor, dim?: number): Tensor {
  const own = engine.stridesOf(x);
  const d = dim === undefined ? -1 : normDim("squeeze", dim, x.ndim);
  const drop = (i: number) => x.shape[i] === 1 && (d === -1 || i === d);
  const keep = x.shape.map((_, i) => i).filter((i) => !drop(i));
  if (keep.length === x.ndim) return x;
  return restride(x, keep.map((i) => x.shape[i]), keep.map((i) => own[i]));
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim("unsqueeze", dim, x.ndim + 1);
  const shape = [...x.shape];
  const strides = [...engine.stridesOf(x)];
  shape.splice(d, 0, 1);
  strides.splice(d, 0, d < x.ndim ? strides[d] * x.shape[d] : 1);
  return restride(x, shape, strides);
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

export function index(x: Tensor, ...specs: IndexSpec[]): Tensor {
  if (specs.length > x.ndim) throw new RangeError(`index: ${specs.length} indices for a tensor with ${x.ndim} dimensions`);
  // where the picked elements are in x's shape (for the gradient) and in its memory (for the view)
  const own = contiguousStrides(x.shape);
  const mem = engine.stridesOf(x);
  let offset = 0;
  let memOffset = engine.offsetOf(x);
  const viewShape: number[] = [];
  const strides: number[] = [];
  const outShape: number[] = [];
  const outStrides: number[] = [];
  x.shape.forEach((n, d) => {
    const s = parseSpec(d < specs.length ? specs[d] : null, n, d);
    offset += s.start * own[d];
    memOffset += s.start * mem[d];
    viewShape.push(s.count);
    strides.push(s.step * own[d]);
    if (!s.drop) {
      outShape.push(s.count);
      outStrides.push(s.step * mem[d]);
    }
  });
  if (numel(viewShape) === 0) return full(outShape, 0, x.dtype, x.device);
  const out = engine.view(x, outShape, outStrides, memOffset);
  return record(out, "IndexBackward", [x], (g) => [scatterView(reshape(g, viewShape), x.shape, viewShape, strides, offset)], [], ([t], lead) =>
    index(t!, ...Array<IndexSpec>(lead).fill(null), ...specs),
  );
}

function checkIndex(op: string, index: Tensor, size: number, dim: number, what = "index"): void {
  if (index.dtype !== "int32") throw new TypeError(`${op}: the ${what} must be an int32 tensor, got ${index.dtype}`);
  // Values are checked where they can be read synchronously (GPU kernels clamp reads instead).
  if (!capability(index.device, "syncRead")) return;
  const values = engine.read(index) as Int32Array;
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
  const out = engine.gather(x, d, index);
  return record(out, "GatherBackward", [x], (g) => [scatterAdd(g, d, index, x.shape)], [], ([t], lead) => gather(t!, d + lead, batched(index, t!, lead)));
}

/** An index tensor repeated for each direction of a batched tangent t. */
const batched = (index: Tensor, t: Tensor, lead: number): Tensor => (lead === 0 ? index : expand(unsqueeze(index, 0), [t.shape[0], ...index.shape]));

/** Zeros of `shape` with `src` added at the positions `index` names along `dim`: gather's gradient. */
function scatterAdd(src: Tensor, dim: number, index: Tensor, shape: Shape): Tensor {
  const out = engine.scatterAdd(src, dim, index, shape);
  return record(out, "ScatterAddBackward", [src], (g) => [gather(g, dim, index)], [], ([t], lead) =>
    scatterAdd(t!, dim + lead, batched(index, t!, lead), [...batchOf(t!, lead), ...shape]),
  );
}

/** Join tensors along an existing dimension. */
export function cat<D extends Device>(tensors: Array<TensorClass<D>>, dim = 0): TensorClass<D> {
  return catAny(tensors, dim) as TensorClass<D>;
}

function catAny(tensors: Tensor[], dim: number): Tensor {
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
      outTensor = engine.viewAdd(outTensor, engine.detached(cast(t, dtype)), t.shape, own, at * own[d]);
    }
    at += t.shape[d];
  }
  return record(
    outTensor,
    "CatBackward",
    tensors,
    (g) => tensors.map((t, i) => (t.requiresGrad ? index(g, ...Array(d).fill(null), [starts[i], starts[i] + t.shape[d]]) : null)),
    [],
    (ts, lead) => {
      const lot = batchOf(ts.find((t) => t !== null)!, lead);
      return catAny(ts.map((t, i) => t ?? full([...lot, ...tensors[i].shape], 0, dtype, first.device)), d + lead);
    },
  );
}

/** Join tensors of one shape along a new dimension. */
export function stack<D extends Device>(tensors: Array<TensorClass<D>>, dim = 0): TensorClass<D> {
  if (tensors.length === 0) throw new RangeError("stack: needs at least one tensor");
  const shape = tensors[0].shape;
  for (const t of tensors) {
    if (!sameShape(t.shape, shape)) throw new RangeError(`stack: all tensors need the same shape, got ${tensors.map((t) => fmt(t.shape)).join(", ")}`);
  }
  const d = normDim("stack", dim, shape.length + 1);
  return catAny(tensors.map((t) => unsqueeze(t as Tensor, d)), d) as TensorClass<D>;
}

// ---------------------------------------------------------------- losses

/** Mean squared error; the shapes must match (a broadcast here is almost always a bug). */
export function mseLoss<D extends Device>(input: TensorClass<D>, target: TensorClass<D>): TensorClass<D> {
  if (!sameShape(input.shape, target.shape)) {
    throw new RangeError(`mseLoss: input shape ${fmt(input.shape)} and target shape ${fmt(target.shape)} differ (reshape one so they match)`);
  }
  const d = sub(input, target);
  return mean(mul(d, d)) as TensorClass<D>;
}

/** Cross-entropy of logits [N, C] against int32 class indices [N]. */
export function crossEntropy<D extends Device>(logits: TensorClass<D>, target: TensorClass<D>): TensorClass<D> {
  if (logits.ndim !== 2 || target.ndim !== 1 || target.shape[0] !== logits.shape[0]) {
    throw new RangeError(`crossEntropy: expects logits [N, C] and targets [N], got ${fmt(logits.shape)} and ${fmt(target.shape)}`);
  }
  checkIndex("crossEntropy", target, logits.shape[1], 1, "target");
  return neg(mean(gather(logSoftmax(logits, 1), 1, unsqueeze(target, 1)))) as TensorClass<D>;
}

// ---------------------------------------------------------------- in place

/** Replace t's values by `value`'s (same shape): the in-place ops' common path. */
function assign<X extends Tensor>(t: X, op: string, value: Tensor): X {
  if (isGradEnabled() && t.requiresGrad) {
    throw new Error(
      t.isLeaf
        ? `${op}: a leaf tensor that requires grad cannot be changed in place while gradients are recorded; do it inside noGrad(() => ...)`
        : `${op}: in-place changes to a tensor inside the graph are not supported; use the out-of-place op instead`,
    );
  }
  if (hasTangents([t])) throw new Error(`${op}: a tensor that carries a forward-mode tangent (inside jvp) cannot be changed in place; use the out-of-place op instead`);
  if (!sameShape(value.shape, t.shape)) {
    throw new RangeError(`${op}: the result has shape ${fmt(value.shape)} but the tensor has shape ${fmt(t.shape)}`);
  }
  // Written into the tensor's memory: every view of it (detach, reshape, permute, index, ...) sees the change.
  engine.writeInto(t, cast(value, t.dtype), op);
  return t;
}

export const fill_ = <X extends Tensor>(t: X, value: number): X => assign(t, "fill_", full(t.shape, value, t.dtype, t.device));
/** Set every element to zero. */
export const zero_ = <X extends Tensor>(t: X): X => fill_(t, 0);
export const add_ = <X extends Tensor>(t: X, o: TensorLike): X => assign(t, "add_", add(engine.detached(t), o));
export const sub_ = <X extends Tensor>(t: X, o: TensorLike): X => assign(t, "sub_", sub(engine.detached(t), o));
export const mul_ = <X extends Tensor>(t: X, o: TensorLike): X => assign(t, "mul_", mul(engine.detached(t), o));
export const copy_ = <X extends Tensor>(t: X, src: Tensor): X => assign(t, "copy_", cast(expand(engine.detached(src), t.shape), t.dtype));

// ---------------------------------------------------------------- reading, converting, moving

/** Read `value` now or, where the device reads asynchronously, as a promise. */
const mapRead = <V, U>(value: V | Promise<V>, f: (v: V) => U): U | Promise<U> => (value instanceof Promise ? value.then(f) : f(value));

/** The values as a flat typed array (a copy). */
export const data = (t: Tensor) => engine.read(t);

function nest(values: ArrayLike<number>, shape: Shape, bool: boolean): NestedArray {
  const conv = (v: number) => (bool ? v !== 0 : v);
  if (shape.length === 0) return conv(values[0]);
  const build = (dim: number, offset: number): NestedArray[] => {
    const stride = numel(shape.slice(dim + 1));
    return Array.from({ length: shape[dim] }, (_, i) => (dim === shape.length - 1 ? conv(values[offset + i]) : build(dim + 1, offset + i * stride)));
  };
  return build(0, 0);
}

/** The values as nested arrays (booleans for a bool tensor). */
export const toArray = (t: Tensor) => mapRead(engine.read(t), (v) => nest(v, t.shape, t.dtype === "bool"));

/** The single value of a one-element tensor. */
export function item(t: Tensor) {
  if (t.size !== 1) throw new RangeError(`item: only one-element tensors can be converted to a number; this one has shape ${fmt(t.shape)}`);
  return mapRead(engine.read(t), (v) => v[0]);
}

/** True if both have the same shape and values. */
export function equal(t: Tensor, o: Tensor) {
  if (!sameShape(t.shape, o.shape)) return capability(t.device, "syncRead") ? false : Promise.resolve(false);
  return mapRead(item(sum(ne(t, o))), (n) => n === 0);
}

/** True if every |t - o| <= atol + rtol * |o| (shapes broadcast). */
export const allclose = (t: Tensor, o: TensorLike, rtol = 1e-5, atol = 1e-8) => mapRead(item(closeMismatches(t, o, rtol, atol)), (n) => n === 0);

/**
 * The same tensor as a new object on the same memory, recorded (gradients and
 * tangents pass through unchanged), so that a transform can give it a
 * gradient or a tangent of its own. @internal
 */
export function alias(x: Tensor): Tensor {
  const out = engine.view(x, x.shape, engine.stridesOf(x), engine.offsetOf(x));
  return record(out, "AliasBackward", [x], (g) => [g], [], ([t]) => t);
}

/** The same values, cut from the graph: gradients do not flow through the result. */
export const detach = (t: Tensor): Tensor => engine.detached(t);

/** Convert to a dtype (recorded between float types) or copy to a device (a new leaf there). */
export function to(t: Tensor, target: DType | Device): Tensor {
  if (engine.isDType(target)) return cast(t, target);
  return target === t.device ? t : engine.copyTo(t, target);
}
export const float = (t: Tensor): Tensor => cast(t, "float32");
export const double = (t: Tensor): Tensor => cast(t, "float64");
export const int = (t: Tensor): Tensor => cast(t, "int32");

/** A copy on the default device (the tensor itself if it is there already). */
export async function cpu(t: Tensor): Promise<Tensor> {
  const home = engine.defaultDevice();
  if (t.device === home) return t;
  return engine.fromValues(await engine.read(t), t.shape, t.dtype, home);
}

/** Free the tensor's memory now (see engine.dispose). */
export const dispose = (t: Tensor): void => engine.dispose(t);

/** Options of `backward()`. */
export interface BackwardOptions {
  /** Record the backward pass too, so that the gradients can be differentiated again (grad of grad). */
  createGraph?: boolean;
}

/** The seed of a backward pass from `t`: ones for a single value, else `gradient` (same shape). */
function seedOf(op: string, t: Tensor, gradient: Tensor | undefined): Tensor {
  if (gradient === undefined) {
    if (t.size !== 1) {
      throw new Error(
        `${op}: grad can be implicitly created only for scalar outputs; this tensor has shape ${fmt(t.shape)}. ` +
          `Pass a gradient of the same shape (e.g. ones(${fmt(t.shape)})) or reduce it first (e.g. .sum()).`,
      );
    }
    return full(t.shape, 1, t.dtype, t.device);
  }
  if (!(gradient instanceof Tensor)) throw new TypeError(`${op}: the gradient must be a Tensor, got ${typeof gradient}`);
  if (!sameShape(gradient.shape, t.shape)) {
    throw new RangeError(`${op}: gradient has shape ${fmt(gradient.shape)} but the tensor has shape ${fmt(t.shape)}`);
  }
  return cast(gradient, t.dtype);
}

/**
 * d(t)/d(leaves), accumulated into each leaf's `grad`. Without a gradient t
 * must be a single value; otherwise pass the gradient of some scalar with
 * respect to t (same shape). `{ createGraph: true }` records the pass, so
 * that the gradients can be differentiated again.
 */
export function backward(t: Tensor, gradient?: Tensor | BackwardOptions, options: BackwardOptions = {}): void {
  if (gradient !== undefined && !(gradient instanceof Tensor)) {
    if (typeof gradient !== "object" || gradient === null) throw new TypeError(`backward: the gradient must be a Tensor, got ${typeof gradient}`);
    return backward(t, undefined, gradient);
  }
  const unknown = Object.keys(options).filter((k) => k !== "createGraph");
  if (unknown.length > 0) throw new TypeError(`backward: unknown option ${unknown.join(", ")} (the options are: createGraph)`);
  if (!t.requiresGrad) {
    throw new Error("backward: this tensor does not require grad and has no gradFn (did you set requiresGrad on the inputs?)");
  }
  const createGraph = options.createGraph === true;
  // The pass's own tensors (the gradients on the way to the leaves) are freed
  // when it ends, as tidy() would: they are never seen outside it. Not where
  // it is recorded, or where they carry tangents that results may need.
  if (!createGraph && !forwardActive()) return void engine.tidy(() => accumulate(t, gradient, createGraph));
  accumulate(t, gradient, createGraph);
}

function accumulate(t: Tensor, gradient: Tensor | undefined, createGraph: boolean): void {
  const g = seedOf("backward", t, gradient);
  const found = runBackward(t, g, null, createGraph);
  // (what stores a gradient is recorded too with createGraph, so that the stored one keeps its graph)
  const storing = createGraph ? enableGrad : noGrad;
  noGrad(() => {
    for (const { tensor: leaf, grad, shared } of found) {
      if (leaf.grad === null || leaf.grad.device !== grad.device) leaf.grad = shared ? storing(() => clone(grad)) : grad;
      // out of place where a gradient has a graph, so that the stored one keeps it
      else if (createGraph || leaf.grad.requiresGrad) leaf.grad = storing(() => add(leaf.grad!, grad));
      else {
        add_(leaf.grad, grad);
        continue;
      }
      // its memory lives as long as the leaf's (a tidy() around backward() keeps it)
      engine.keepWith(leaf.grad, leaf);
    }
  });
}

/**
 * The gradients of `outputs` (seeded with `gradOutput`, or ones for a single
 * value) with respect to `inputs`, returned rather than stored (as
 * torch.autograd.grad): null for an input the outputs do not depend on.
 * @internal the transforms (../func) are built on it
 */
export function gradients(outputs: Tensor, inputs: Tensor[], gradOutput?: Tensor, createGraph = false): Array<Tensor | null> {
  const seed = seedOf("grad", outputs, gradOutput);
  if (!outputs.requiresGrad) return inputs.map(() => null);
  const found = new Map(runBackward(outputs, seed, inputs, createGraph).map((f) => [f.tensor, f]));
  return inputs.map((x) => {
    const f = found.get(x);
    return f === undefined ? null : f.shared && !createGraph ? clone(f.grad) : f.grad;
  });
}

export const toString = (t: Tensor): string => formatTensor(t);
