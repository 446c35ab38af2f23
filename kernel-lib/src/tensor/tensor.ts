import { inspect } from "node:util";
import { getBackend, type Backend, type DType, type Storage, type TypedArray } from "../backend/backend";
import { GradNode, isGradEnabled, runBackward } from "./autograd";
import { formatTensor } from "./format";
import * as ops from "./ops";
import { fmt, numel, shapeArg, type Shape } from "./shape";

export type { DType } from "../backend/backend";
export type TensorLike = Tensor | number;
/** Nested arrays of numbers (or booleans), as `tensor()` takes them. */
export type NestedArray = number | boolean | NestedArray[];

export interface TensorOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

export const isFloat = (d: DType): boolean => d === "float32" || d === "float64";

/**
 * An n-dimensional array on a device, with reverse-mode autograd.
 * Results of ops are new tensors: a reshape or slice copies rather than
 * aliasing its input.
 */
export class Tensor {
  /** @internal */
  _storage: Storage;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly device: string;
  /** The gradient accumulated by `backward()`; null until then. */
  grad: Tensor | null = null;
  /** The recorded op that produced this tensor (null for leaves). */
  gradFn: GradNode | null = null;
  /** @internal bumped by every in-place change */
  _version = 0;
  private _requiresGrad = false;

  /** @internal use `tensor()`, `zeros()` and friends */
  constructor(storage: Storage, shape: Shape, device: string) {
    this._storage = storage;
    this.shape = shape;
    this.dtype = storage.dtype;
    this.device = device;
  }

  /** @internal */
  get backend(): Backend {
    return getBackend(this.device);
  }

  get requiresGrad(): boolean {
    return this._requiresGrad;
  }

  /** Mark a leaf tensor as a parameter whose gradient `backward()` should fill. */
  requiresGrad_(flag = true): this {
    if (flag && !isFloat(this.dtype)) {
      throw new TypeError(`requiresGrad_: only floating-point tensors can require gradients, got ${this.dtype} (convert with .float())`);
    }
    if (this.gradFn !== null) {
      throw new Error("requiresGrad_: only leaf tensors can change requiresGrad; use .detach() for a non-leaf result");
    }
    this._requiresGrad = flag;
    return this;
  }

  /** @internal set by ops when recording */
  _record(node: GradNode): this {
    this._requiresGrad = true;
    this.gradFn = node;
    return this;
  }

  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }
  /** A leaf is a tensor no recorded op produced. */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /**
   * d(this)/d(leaves), accumulated into each leaf's `grad`. Without an
   * argument this must be a single value; otherwise pass the gradient of some
   * scalar with respect to this tensor (same shape).
   */
  backward(gradient?: Tensor): void {
    if (!this.requiresGrad) {
      throw new Error("backward: this tensor does not require grad and has no gradFn (did you set requiresGrad on the inputs?)");
    }
    let g: Tensor;
    if (gradient === undefined) {
      if (this.size !== 1) {
        throw new Error(
          `backward: grad can be implicitly created only for scalar outputs; this tensor has shape ${fmt(this.shape)}. ` +
            `Pass a gradient of the same shape (e.g. ones(${fmt(this.shape)})) or reduce it first (e.g. .sum()).`,
        );
      }
      g = fromValues([1], this.shape, this.dtype, this.device);
    } else {
      if (fmt(gradient.shape) !== fmt(this.shape)) {
        throw new RangeError(`backward: gradient has shape ${fmt(gradient.shape)} but the tensor has shape ${fmt(this.shape)}`);
      }
      g = gradient.to(this.dtype);
    }
    runBackward(this, g);
  }

  /** The values as a flat typed array (a copy). */
  data(): TypedArray {
    const d = this.backend.read(this._storage);
    if (d instanceof Promise) throw new Error(`data: a ${this.device} tensor is read asynchronously: use await t.dataAsync()`);
    return d;
  }

  /** The values as a flat typed array (a copy), for any device. */
  async dataAsync(): Promise<TypedArray> {
    return this.backend.read(this._storage);
  }

  /** The values as nested arrays (booleans for a bool tensor). */
  toArray(): NestedArray {
    return nest(this.data(), this.shape, this.dtype === "bool");
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item: only one-element tensors can be converted to a number; this one has shape ${fmt(this.shape)}`);
    return this.data()[0];
  }

  /** The same values, cut from the graph: gradients do not flow through the result. */
  detach(): Tensor {
    return new Tensor(this._storage, this.shape, this.device);
  }

  /** A copy of the values (recorded, so gradients flow through it). */
  clone(): Tensor {
    return ops.unary("Clone", "copy", this, (g) => g, false);
  }

  /** Convert to another dtype (recorded between float types). */
  to(dtype: DType): Tensor {
    return ops.cast(this, dtype);
  }
  float(): Tensor {
    return this.to("float32");
  }
  double(): Tensor {
    return this.to("float64");
  }
  int(): Tensor {
    return this.to("int32");
  }

  // Elementwise arithmetic (numbers broadcast).
  add(o: TensorLike): Tensor {
    return ops.add(this, o);
  }
  sub(o: TensorLike): Tensor {
    return ops.sub(this, o);
  }
  mul(o: TensorLike): Tensor {
    return ops.mul(this, o);
  }
  div(o: TensorLike): Tensor {
    return ops.div(this, o);
  }
  pow(o: TensorLike): Tensor {
    return ops.pow(this, o);
  }
  /** `o - this`. */
  rsub(o: TensorLike): Tensor {
    return ops.sub(o, this);
  }
  maximum(o: TensorLike): Tensor {
    return ops.maximum(this, o);
  }
  minimum(o: TensorLike): Tensor {
    return ops.minimum(this, o);
  }
  neg(): Tensor {
    return ops.neg(this);
  }
  exp(): Tensor {
    return ops.exp(this);
  }
  log(): Tensor {
    return ops.log(this);
  }
  sqrt(): Tensor {
    return ops.sqrt(this);
  }
  abs(): Tensor {
    return ops.abs(this);
  }
  sign(): Tensor {
    return ops.sign(this);
  }
  tanh(): Tensor {
    return ops.tanh(this);
  }
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }
  relu(): Tensor {
    return ops.relu(this);
  }

  // Comparisons give bool tensors.
  lt(o: TensorLike): Tensor {
    return ops.compare("lt", this, o);
  }
  le(o: TensorLike): Tensor {
    return ops.compare("le", this, o);
  }
  gt(o: TensorLike): Tensor {
    return ops.compare("gt", this, o);
  }
  ge(o: TensorLike): Tensor {
    return ops.compare("ge", this, o);
  }
  eq(o: TensorLike): Tensor {
    return ops.compare("eq", this, o);
  }
  ne(o: TensorLike): Tensor {
    return ops.compare("ne", this, o);
  }
  /** True if both have the same shape and values. */
  equal(o: Tensor): boolean {
    return fmt(this.shape) === fmt(o.shape) && ops.compare("ne", this, o).sum().item() === 0;
  }
  /** True if every |this - o| <= atol + rtol * |o| (shapes broadcast). */
  allclose(o: TensorLike, rtol = 1e-5, atol = 1e-8): boolean {
    return ops.allclose(this, o, rtol, atol);
  }

  // Reductions: over everything, or over `dim` (a number or a list).
  sum(dim?: number | number[], keepdim = false): Tensor {
    return ops.sum(this, dim, keepdim);
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return ops.mean(this, dim, keepdim);
  }
  max(dim?: number, keepdim = false): Tensor {
    return ops.extreme("max", this, dim, keepdim);
  }
  min(dim?: number, keepdim = false): Tensor {
    return ops.extreme("min", this, dim, keepdim);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return ops.argExtreme("max", this, dim, keepdim);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return ops.argExtreme("min", this, dim, keepdim);
  }
  /** The Euclidean (Frobenius) norm of all elements. */
  norm(): Tensor {
    return ops.norm(this);
  }
  softmax(dim: number): Tensor {
    return ops.softmax(this, dim);
  }
  logSoftmax(dim: number): Tensor {
    return ops.logSoftmax(this, dim);
  }

  // Products.
  dot(o: Tensor): Tensor {
    return ops.dot(this, o);
  }
  matmul(o: Tensor): Tensor {
    return ops.matmul(this, o);
  }

  // Shape and indexing.
  reshape(...shape: Array<number | number[]>): Tensor {
    return ops.reshape(this, shape.length === 1 && Array.isArray(shape[0]) ? shape[0] : (shape as number[]));
  }
  /** Same as reshape (results never alias in this library). */
  view(...shape: Array<number | number[]>): Tensor {
    return this.reshape(...shape);
  }
  flatten(): Tensor {
    return this.reshape(-1);
  }
  permute(...dims: Array<number | number[]>): Tensor {
    return ops.permute(this, dims.length === 1 && Array.isArray(dims[0]) ? dims[0] : (dims as number[]));
  }
  transpose(dim0 = -2, dim1 = -1): Tensor {
    return ops.transpose(this, dim0, dim1);
  }
  /** The transpose of a 2-D tensor (reversed dimensions in general). */
  get T(): Tensor {
    return ops.permute(this, this.shape.map((_, i) => this.ndim - 1 - i));
  }
  expand(...shape: Array<number | number[]>): Tensor {
    return ops.expand(this, shape.length === 1 && Array.isArray(shape[0]) ? shape[0] : (shape as number[]));
  }
  squeeze(dim?: number): Tensor {
    return ops.squeeze(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return ops.unsqueeze(this, dim);
  }
  /**
   * Index or slice per dimension: a number picks one entry (dropping the
   * dimension), a string "start:end:step" (any part optional, negatives from
   * the end) or [start, end, step] slices, and trailing dimensions are kept.
   * `x.index(0)`, `x.index(":", "1:3")`, `x.index("::-1")`.
   */
  index(...specs: ops.IndexSpec[]): Tensor {
    return ops.index(this, specs);
  }
  /** Values picked along `dim` by an int32 index tensor (torch.gather). */
  gather(dim: number, index: Tensor): Tensor {
    return ops.gather(this, dim, index);
  }

  // In-place updates (for parameters inside noGrad, and gradients).
  /** Set every element to zero. */
  zero_(): this {
    return this.fill_(0);
  }
  fill_(value: number): this {
    return ops.assign(this, "fill_", ops.full(this.shape, value, this.dtype, this.device));
  }
  add_(o: TensorLike): this {
    return ops.assign(this, "add_", ops.add(this.detach(), o));
  }
  sub_(o: TensorLike): this {
    return ops.assign(this, "sub_", ops.sub(this.detach(), o));
  }
  mul_(o: TensorLike): this {
    return ops.assign(this, "mul_", ops.mul(this.detach(), o));
  }
  copy_(src: Tensor): this {
    return ops.assign(this, "copy_", src.detach().expand(this.shape).to(this.dtype));
  }

  toString(): string {
    return formatTensor(this);
  }
  [inspect.custom](): string {
    return formatTensor(this);
  }
}

/** @internal a tensor from flat values */
export function fromValues(values: ArrayLike<number>, shape: Shape, dtype: DType, device: string): Tensor {
  return new Tensor(getBackend(device).fromArray(values, dtype), shape, device);
}

function nest(data: TypedArray, shape: Shape, bool: boolean): NestedArray {
  const conv = (v: number) => (bool ? v !== 0 : v);
  if (shape.length === 0) return conv(data[0]);
  const build = (dim: number, offset: number): NestedArray[] => {
    const stride = numel(shape.slice(dim + 1));
    return Array.from({ length: shape[dim] }, (_, i) =>
      dim === shape.length - 1 ? conv(data[offset + i]) : build(dim + 1, offset + i * stride),
    );
  };
  return build(0, 0);
}

function flattenNested(data: NestedArray): { values: number[]; shape: Shape; bool: boolean } {
  const shape: Shape = [];
  let probe: NestedArray = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0] ?? 0;
  }
  const values: number[] = [];
  let bool = typeof probe === "boolean";
  const walk = (x: NestedArray, depth: number, path: string) => {
    if (depth === shape.length) {
      if (Array.isArray(x)) throw new RangeError(`tensor: ragged nested array: ${path} has a deeper nesting than its siblings`);
      if (typeof x === "boolean") values.push(x ? 1 : 0);
      else if (typeof x === "number") {
        bool = false;
        values.push(x);
      } else throw new TypeError(`tensor: ${path} is ${String(x)}; expected a number or boolean`);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[depth]) {
      throw new RangeError(
        `tensor: ragged nested array: ${path} has ${Array.isArray(x) ? `length ${x.length}` : "a single value"}, expected length ${shape[depth]}`,
      );
    }
    x.forEach((v, i) => walk(v, depth + 1, `${path}[${i}]`));
  };
  walk(data, 0, "data");
  return { values, shape, bool };
}

/**
 * A tensor from a number, nested arrays or a typed array. Numbers become
 * float32 unless `dtype` says otherwise; booleans become a bool tensor.
 */
export function tensor(data: NestedArray | TypedArray, options: TensorOptions = {}): Tensor {
  const device = options.device ?? "cpu";
  let values: ArrayLike<number>;
  let shape: Shape;
  let inferred: DType = "float32";
  if (ArrayBuffer.isView(data)) {
    values = data as TypedArray;
    shape = [(data as TypedArray).length];
    if (data instanceof Float64Array) inferred = "float64";
    else if (data instanceof Int32Array) inferred = "int32";
  } else {
    const flat = flattenNested(data as NestedArray);
    values = flat.values;
    shape = flat.shape;
    if (flat.bool && flat.values.length > 0) inferred = "bool";
  }
  const t = fromValues(values, shape, options.dtype ?? inferred, device);
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}

function creation(shape: Shape, value: number, options: TensorOptions): Tensor {
  const t = ops.full(shape, value, options.dtype ?? "float32", options.device ?? "cpu");
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}

type ShapeArgs = Array<number | Shape | TensorOptions>;
function splitOptions(op: string, args: ShapeArgs): [Shape, TensorOptions] {
  const last = args[args.length - 1];
  const options = last !== undefined && typeof last === "object" && !Array.isArray(last) ? (args.pop() as TensorOptions) : {};
  return [shapeArg(op, args as Array<number | Shape>), options];
}

/** zeros(2, 3) or zeros([2, 3], { requiresGrad: true }). */
export function zeros(...args: ShapeArgs): Tensor {
  const [shape, options] = splitOptions("zeros", args);
  return creation(shape, 0, options);
}
export function ones(...args: ShapeArgs): Tensor {
  const [shape, options] = splitOptions("ones", args);
  return creation(shape, 1, options);
}
export function full(shape: Shape, value: number, options: TensorOptions = {}): Tensor {
  return creation(shapeArg("full", [shape]), value, options);
}
export function zerosLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return creation(t.shape, 0, { dtype: t.dtype, device: t.device, ...options });
}
export function onesLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return creation(t.shape, 1, { dtype: t.dtype, device: t.device, ...options });
}

/** arange(end), arange(start, end) or arange(start, end, step); float32 unless a dtype is given. */
export function arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (![start, end, step].every(Number.isFinite)) throw new RangeError(`arange: start, end and step must be finite, got ${start}, ${end}, ${step}`);
  if (step === 0) throw new RangeError("arange: step must not be zero");
  const n = Math.max(0, Math.ceil((end - start) / step));
  const values = Array.from({ length: n }, (_, i) => start + i * step);
  const t = fromValues(values, [n], options.dtype ?? "float32", options.device ?? "cpu");
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative integer, got ${steps}`);
  const values = Array.from({ length: steps }, (_, i) => (steps === 1 ? start : start + ((end - start) * i) / (steps - 1)));
  const t = fromValues(values, [steps], options.dtype ?? "float32", options.device ?? "cpu");
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}

/** Record `out` as produced by `name` from `inputs` if any input requires grad. @internal */
export function record(
  out: Tensor,
  name: string,
  inputs: Tensor[],
  backward: (g: Tensor) => Array<Tensor | null>,
  saved: Tensor[] = [],
): Tensor {
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) out._record(new GradNode(name, inputs, backward, saved));
  return out;
}
