import { inspect } from "node:util";
import { getBackend, type Backend, type DType, type Storage, type TypedArray } from "../backend/backend";
import { GradNode, isGradEnabled, runBackward } from "./autograd";
import { formatTensor } from "./format";
import * as ops from "./ops";
import { fmt, numel, shapeArg, type Shape } from "./shape";

export type { DType } from "../backend/backend";
/** Where a tensor lives. */
export type Device = "cpu" | "webgpu";
/** A value read from a tensor: immediate on the CPU, a promise on a GPU. */
export type Read<D extends Device, T> = D extends "cpu" ? T : Promise<T>;
export type TensorLike = Tensor<Device> | number;
/** Nested arrays of numbers (or booleans), as `tensor()` takes them. */
export type NestedArray = number | boolean | NestedArray[];

export interface TensorOptions<D extends Device = Device> {
  dtype?: DType;
  device?: D;
  requiresGrad?: boolean;
}

export const isFloat = (d: DType): boolean => d === "float32" || d === "float64";

/**
 * An n-dimensional array on a device, with reverse-mode autograd.
 * Results of ops are new tensors: a reshape or slice copies rather than
 * aliasing its input.
 */
export class Tensor<D extends Device = "cpu"> {
  /** @internal */
  _storage: Storage;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly device: D;
  /** The gradient accumulated by `backward()`; null until then. */
  grad: Tensor<D> | null = null;
  /** The recorded op that produced this tensor (null for leaves). */
  gradFn: GradNode | null = null;
  private _requiresGrad = false;

  /** @internal use `tensor()`, `zeros()` and friends */
  constructor(storage: Storage, shape: Shape, device: D) {
    this._storage = storage;
    this.shape = shape;
    this.dtype = storage.dtype;
    this.device = device;
  }

  /** @internal */
  get backend(): Backend {
    return getBackend(this.device);
  }

  /** @internal bumped by every in-place change to this tensor's memory */
  get _version(): number {
    return this._storage.version;
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
  backward(gradient?: Tensor<D>): void {
    if (!this.requiresGrad) {
      throw new Error("backward: this tensor does not require grad and has no gradFn (did you set requiresGrad on the inputs?)");
    }
    let g: Tensor<Device>;
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
      g = gradient.to(this.dtype) as Tensor<Device>;
    }
    runBackward(this as Tensor<Device>, g);
  }

  /** The values as a flat typed array (a copy); a promise for a GPU tensor. */
  data(): Read<D, TypedArray> {
    return this.backend.read(this._storage) as Read<D, TypedArray>;
  }

  /** The values as nested arrays (booleans for a bool tensor); a promise for a GPU tensor. */
  toArray(): Read<D, NestedArray> {
    const values = this.data();
    const build = (d: TypedArray) => nest(d, this.shape, this.dtype === "bool");
    return (values instanceof Promise ? values.then(build) : build(values as TypedArray)) as Read<D, NestedArray>;
  }

  /** The single value of a one-element tensor; a promise for a GPU tensor. */
  item(): Read<D, number> {
    if (this.size !== 1) throw new RangeError(`item: only one-element tensors can be converted to a number; this one has shape ${fmt(this.shape)}`);
    const values = this.data();
    return (values instanceof Promise ? values.then((d) => d[0]) : (values as TypedArray)[0]) as Read<D, number>;
  }

  /**
   * Free this tensor's device memory now (GPU tensors; a no-op on the CPU).
   * Tensors sharing the memory (detach, reshape) become unusable too.
   */
  dispose(): void {
    this.backend.dispose?.(this._storage);
  }

  /** The same values, cut from the graph: gradients do not flow through the result. */
  detach(): Tensor<D> {
    return new Tensor(this._storage, this.shape, this.device);
  }

  /** A copy of the values (recorded, so gradients flow through it). */
  clone(): Tensor<D> {
    return ops.unary("Clone", "copy", this, (g) => g, false) as Tensor<D>;
  }

  /**
   * Convert to another dtype (recorded between float types), or copy to a
   * device: `t.to("webgpu")`. The copy starts a new graph (it is a leaf);
   * reading back from a GPU is `await t.cpu()`.
   */
  to<E extends Device>(target: E): Tensor<E>;
  to(target: DType): Tensor<D>;
  to(target: DType | Device): Tensor<Device> {
    if (target === "cpu" || target === "webgpu") {
      if (target === this.device) return this as Tensor<Device>;
      if (this.device !== "cpu") throw new Error(`to: reading from ${this.device} is asynchronous: use await t.cpu()`);
      return fromValues(this.data() as TypedArray, this.shape, this.dtype, target);
    }
    return ops.cast(this, target);
  }

  /** A CPU copy (this tensor itself if it is on the CPU already). */
  async cpu(): Promise<Tensor<"cpu">> {
    if (this.device === "cpu") return this as unknown as Tensor<"cpu">;
    return fromValues(await this.backend.read(this._storage), this.shape, this.dtype, "cpu");
  }
  float(): Tensor<D> {
    return this.to("float32");
  }
  double(): Tensor<D> {
    return this.to("float64");
  }
  int(): Tensor<D> {
    return this.to("int32");
  }

  // Elementwise arithmetic (numbers broadcast).
  add(o: TensorLike): Tensor<D> {
    return ops.add(this, o) as Tensor<D>;
  }
  sub(o: TensorLike): Tensor<D> {
    return ops.sub(this, o) as Tensor<D>;
  }
  mul(o: TensorLike): Tensor<D> {
    return ops.mul(this, o) as Tensor<D>;
  }
  div(o: TensorLike): Tensor<D> {
    return ops.div(this, o) as Tensor<D>;
  }
  pow(o: TensorLike): Tensor<D> {
    return ops.pow(this, o) as Tensor<D>;
  }
  /** `o - this`. */
  rsub(o: TensorLike): Tensor<D> {
    return ops.sub(o, this) as Tensor<D>;
  }
  maximum(o: TensorLike): Tensor<D> {
    return ops.maximum(this, o) as Tensor<D>;
  }
  minimum(o: TensorLike): Tensor<D> {
    return ops.minimum(this, o) as Tensor<D>;
  }
  neg(): Tensor<D> {
    return ops.neg(this) as Tensor<D>;
  }
  exp(): Tensor<D> {
    return ops.exp(this) as Tensor<D>;
  }
  log(): Tensor<D> {
    return ops.log(this) as Tensor<D>;
  }
  sqrt(): Tensor<D> {
    return ops.sqrt(this) as Tensor<D>;
  }
  abs(): Tensor<D> {
    return ops.abs(this) as Tensor<D>;
  }
  sign(): Tensor<D> {
    return ops.sign(this) as Tensor<D>;
  }
  tanh(): Tensor<D> {
    return ops.tanh(this) as Tensor<D>;
  }
  sigmoid(): Tensor<D> {
    return ops.sigmoid(this) as Tensor<D>;
  }
  relu(): Tensor<D> {
    return ops.relu(this) as Tensor<D>;
  }

  // Comparisons give bool tensors.
  lt(o: TensorLike): Tensor<D> {
    return ops.compare("lt", this, o) as Tensor<D>;
  }
  le(o: TensorLike): Tensor<D> {
    return ops.compare("le", this, o) as Tensor<D>;
  }
  gt(o: TensorLike): Tensor<D> {
    return ops.compare("gt", this, o) as Tensor<D>;
  }
  ge(o: TensorLike): Tensor<D> {
    return ops.compare("ge", this, o) as Tensor<D>;
  }
  eq(o: TensorLike): Tensor<D> {
    return ops.compare("eq", this, o) as Tensor<D>;
  }
  ne(o: TensorLike): Tensor<D> {
    return ops.compare("ne", this, o) as Tensor<D>;
  }
  /** True if both have the same shape and values; a promise for a GPU tensor. */
  equal(o: Tensor<D>): Read<D, boolean> {
    if (fmt(this.shape) !== fmt(o.shape)) return (this.device === "cpu" ? false : Promise.resolve(false)) as Read<D, boolean>;
    return mapRead(ops.compare("ne", this, o).sum().item(), (n) => n === 0) as Read<D, boolean>;
  }
  /** True if every |this - o| <= atol + rtol * |o| (shapes broadcast); a promise for a GPU tensor. */
  allclose(o: TensorLike, rtol = 1e-5, atol = 1e-8): Read<D, boolean> {
    return mapRead(ops.closeMismatches(this, o, rtol, atol).item(), (n) => n === 0) as Read<D, boolean>;
  }

  // Reductions: over everything, or over `dim` (a number or a list).
  sum(dim?: number | number[], keepdim = false): Tensor<D> {
    return ops.sum(this, dim, keepdim) as Tensor<D>;
  }
  mean(dim?: number | number[], keepdim = false): Tensor<D> {
    return ops.mean(this, dim, keepdim) as Tensor<D>;
  }
  max(dim?: number, keepdim = false): Tensor<D> {
    return ops.extreme("max", this, dim, keepdim) as Tensor<D>;
  }
  min(dim?: number, keepdim = false): Tensor<D> {
    return ops.extreme("min", this, dim, keepdim) as Tensor<D>;
  }
  argmax(dim?: number, keepdim = false): Tensor<D> {
    return ops.argExtreme("max", this, dim, keepdim) as Tensor<D>;
  }
  argmin(dim?: number, keepdim = false): Tensor<D> {
    return ops.argExtreme("min", this, dim, keepdim) as Tensor<D>;
  }
  /** The Euclidean (Frobenius) norm of all elements. */
  norm(): Tensor<D> {
    return ops.norm(this) as Tensor<D>;
  }
  softmax(dim: number): Tensor<D> {
    return ops.softmax(this, dim) as Tensor<D>;
  }
  logSoftmax(dim: number): Tensor<D> {
    return ops.logSoftmax(this, dim) as Tensor<D>;
  }

  // Products.
  dot(o: Tensor<D>): Tensor<D> {
    return ops.dot(this, o) as Tensor<D>;
  }
  matmul(o: Tensor<D>): Tensor<D> {
    return ops.matmul(this, o) as Tensor<D>;
  }

  // Shape and indexing.
  reshape(...shape: Array<number | number[]>): Tensor<D> {
    return ops.reshape(this, shape.length === 1 && Array.isArray(shape[0]) ? shape[0] : (shape as number[])) as Tensor<D>;
  }
  /** Same as reshape (results never alias in this library). */
  view(...shape: Array<number | number[]>): Tensor<D> {
    return this.reshape(...shape);
  }
  flatten(): Tensor<D> {
    return this.reshape(-1);
  }
  permute(...dims: Array<number | number[]>): Tensor<D> {
    return ops.permute(this, dims.length === 1 && Array.isArray(dims[0]) ? dims[0] : (dims as number[])) as Tensor<D>;
  }
  transpose(dim0 = -2, dim1 = -1): Tensor<D> {
    return ops.transpose(this, dim0, dim1) as Tensor<D>;
  }
  /** The transpose of a 2-D tensor (reversed dimensions in general). */
  get T(): Tensor<D> {
    return ops.permute(this, this.shape.map((_, i) => this.ndim - 1 - i)) as Tensor<D>;
  }
  expand(...shape: Array<number | number[]>): Tensor<D> {
    return ops.expand(this, shape.length === 1 && Array.isArray(shape[0]) ? shape[0] : (shape as number[])) as Tensor<D>;
  }
  squeeze(dim?: number): Tensor<D> {
    return ops.squeeze(this, dim) as Tensor<D>;
  }
  unsqueeze(dim: number): Tensor<D> {
    return ops.unsqueeze(this, dim) as Tensor<D>;
  }
  /**
   * Index or slice per dimension: a number picks one entry (dropping the
   * dimension), a string "start:end:step" (any part optional, negatives from
   * the end) or [start, end, step] slices, and trailing dimensions are kept.
   * `x.index(0)`, `x.index(":", "1:3")`, `x.index("::-1")`.
   */
  index(...specs: ops.IndexSpec[]): Tensor<D> {
    return ops.index(this, specs) as Tensor<D>;
  }
  /** Values picked along `dim` by an int32 index tensor (torch.gather). */
  gather(dim: number, index: Tensor<D>): Tensor<D> {
    return ops.gather(this, dim, index) as Tensor<D>;
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
  copy_(src: Tensor<D>): this {
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
export function fromValues<D extends Device>(values: ArrayLike<number>, shape: Shape, dtype: DType, device: D): Tensor<D> {
  return new Tensor(getBackend(device).fromArray(values, dtype), shape, device);
}

function mapRead<T, U>(value: T | Promise<T>, f: (v: T) => U): U | Promise<U> {
  return value instanceof Promise ? value.then(f) : f(value);
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
export function tensor<D extends Device = "cpu">(data: NestedArray | TypedArray, options: TensorOptions<D> = {}): Tensor<D> {
  const device = (options.device ?? "cpu") as D;
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

function creation<D extends Device>(shape: Shape, value: number, options: TensorOptions<D>): Tensor<D> {
  const t = ops.full(shape, value, options.dtype ?? "float32", options.device ?? "cpu") as Tensor<D>;
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}

/** @internal shape arguments, optionally followed by options */
export function splitOptions<D extends Device>(op: string, args: Array<number | Shape | TensorOptions<D> | undefined>): [Shape, TensorOptions<D>] {
  while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
  const last = args[args.length - 1];
  const options = last !== undefined && typeof last === "object" && !Array.isArray(last) ? (args.pop() as TensorOptions<D>) : {};
  return [shapeArg(op, args as Array<number | Shape>), options];
}

/** zeros(2, 3), zeros([2, 3]), zeros([2, 3], { requiresGrad: true, device: "webgpu" }). */
export function zeros(...shape: number[]): Tensor;
export function zeros<D extends Device = "cpu">(shape: Shape, options?: TensorOptions<D>): Tensor<D>;
export function zeros(...args: Array<number | Shape | TensorOptions | undefined>): Tensor<Device> {
  const [shape, options] = splitOptions("zeros", args);
  return creation(shape, 0, options);
}
export function ones(...shape: number[]): Tensor;
export function ones<D extends Device = "cpu">(shape: Shape, options?: TensorOptions<D>): Tensor<D>;
export function ones(...args: Array<number | Shape | TensorOptions | undefined>): Tensor<Device> {
  const [shape, options] = splitOptions("ones", args);
  return creation(shape, 1, options);
}
export function full<D extends Device = "cpu">(shape: Shape, value: number, options: TensorOptions<D> = {}): Tensor<D> {
  return creation(shapeArg("full", [shape]), value, options);
}
export function zerosLike<D extends Device>(t: Tensor<D>, options: TensorOptions<D> = {}): Tensor<D> {
  return creation(t.shape, 0, { dtype: t.dtype, device: t.device, ...options });
}
export function onesLike<D extends Device>(t: Tensor<D>, options: TensorOptions<D> = {}): Tensor<D> {
  return creation(t.shape, 1, { dtype: t.dtype, device: t.device, ...options });
}

/** arange(end), arange(start, end) or arange(start, end, step); float32 unless a dtype is given. */
export function arange<D extends Device = "cpu">(start: number, end?: number, step = 1, options: TensorOptions<D> = {}): Tensor<D> {
  if (end === undefined) [start, end] = [0, start];
  if (![start, end, step].every(Number.isFinite)) throw new RangeError(`arange: start, end and step must be finite, got ${start}, ${end}, ${step}`);
  if (step === 0) throw new RangeError("arange: step must not be zero");
  const n = Math.max(0, Math.ceil((end - start) / step));
  const values = Array.from({ length: n }, (_, i) => start + i * step);
  const t = fromValues(values, [n], options.dtype ?? "float32", (options.device ?? "cpu") as D);
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace<D extends Device = "cpu">(start: number, end: number, steps: number, options: TensorOptions<D> = {}): Tensor<D> {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative integer, got ${steps}`);
  const values = Array.from({ length: steps }, (_, i) => (steps === 1 ? start : start + ((end - start) * i) / (steps - 1)));
  const t = fromValues(values, [steps], options.dtype ?? "float32", (options.device ?? "cpu") as D);
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}

/** Record `out` as produced by `name` from `inputs` if any input requires grad. @internal */
export function record(
  out: Tensor<Device>,
  name: string,
  inputs: Array<Tensor<Device>>,
  backward: (g: Tensor<Device>) => Array<Tensor<Device> | null>,
  saved: Array<Tensor<Device>> = [],
): Tensor<Device> {
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) out._record(new GradNode(name, inputs, backward, saved));
  return out;
}
