/**
 * The tensor methods (`x.matmul(w).relu()`), installed on `Tensor.prototype`
 * from the ops, so that the Tensor class itself imports no op (and the modules
 * load in any order). Their types are declared once, in `TensorMethods`; the
 * table below must implement every one of them (the compiler checks).
 */
import type { DType } from "../backend/backend";
import * as ops from "./ops";
import { Tensor, fromValues, type Device, type Read, type TensorLike } from "./tensor";
import { fmt } from "./shape";

export interface TensorMethods<D extends Device> {
  /** A copy of the values (recorded, so gradients flow through it). */
  clone(): Tensor<D>;
  /**
   * Convert to another dtype (recorded between float types), or copy to a
   * device: `t.to("webgpu")`. The copy starts a new graph (it is a leaf);
   * reading back from a GPU is `await t.cpu()`.
   */
  to<E extends Device>(target: E): Tensor<E>;
  to(target: DType): Tensor<D>;
  float(): Tensor<D>;
  double(): Tensor<D>;
  int(): Tensor<D>;

  // Elementwise arithmetic (numbers broadcast).
  add(o: TensorLike): Tensor<D>;
  sub(o: TensorLike): Tensor<D>;
  mul(o: TensorLike): Tensor<D>;
  div(o: TensorLike): Tensor<D>;
  pow(o: TensorLike): Tensor<D>;
  /** `o - this`. */
  rsub(o: TensorLike): Tensor<D>;
  maximum(o: TensorLike): Tensor<D>;
  minimum(o: TensorLike): Tensor<D>;
  neg(): Tensor<D>;
  exp(): Tensor<D>;
  log(): Tensor<D>;
  sqrt(): Tensor<D>;
  abs(): Tensor<D>;
  sign(): Tensor<D>;
  tanh(): Tensor<D>;
  sigmoid(): Tensor<D>;
  relu(): Tensor<D>;

  // Comparisons give bool tensors.
  lt(o: TensorLike): Tensor<D>;
  le(o: TensorLike): Tensor<D>;
  gt(o: TensorLike): Tensor<D>;
  ge(o: TensorLike): Tensor<D>;
  eq(o: TensorLike): Tensor<D>;
  ne(o: TensorLike): Tensor<D>;
  /** True if both have the same shape and values; a promise for a GPU tensor. */
  equal(o: Tensor<D>): Read<D, boolean>;
  /** True if every |this - o| <= atol + rtol * |o| (shapes broadcast); a promise for a GPU tensor. */
  allclose(o: TensorLike, rtol?: number, atol?: number): Read<D, boolean>;

  // Reductions: over everything, or over `dim` (a number or a list).
  sum(dim?: number | number[], keepdim?: boolean): Tensor<D>;
  mean(dim?: number | number[], keepdim?: boolean): Tensor<D>;
  max(dim?: number, keepdim?: boolean): Tensor<D>;
  min(dim?: number, keepdim?: boolean): Tensor<D>;
  argmax(dim?: number, keepdim?: boolean): Tensor<D>;
  argmin(dim?: number, keepdim?: boolean): Tensor<D>;
  /** The Euclidean (Frobenius) norm of all elements. */
  norm(): Tensor<D>;
  softmax(dim: number): Tensor<D>;
  logSoftmax(dim: number): Tensor<D>;

  // Products.
  dot(o: Tensor<D>): Tensor<D>;
  matmul(o: Tensor<D>): Tensor<D>;

  // Shape and indexing.
  reshape(...shape: Array<number | number[]>): Tensor<D>;
  /** Same as reshape. */
  view(...shape: Array<number | number[]>): Tensor<D>;
  flatten(): Tensor<D>;
  permute(...dims: Array<number | number[]>): Tensor<D>;
  transpose(dim0?: number, dim1?: number): Tensor<D>;
  /** The transpose of a 2-D tensor (reversed dimensions in general). */
  readonly T: Tensor<D>;
  expand(...shape: Array<number | number[]>): Tensor<D>;
  squeeze(dim?: number): Tensor<D>;
  unsqueeze(dim: number): Tensor<D>;
  /**
   * Index or slice per dimension: a number picks one entry (dropping the
   * dimension), a string "start:end:step" (any part optional, negatives from
   * the end) or [start, end, step] slices, and trailing dimensions are kept.
   * `x.index(0)`, `x.index(":", "1:3")`, `x.index("::-1")`.
   */
  index(...specs: ops.IndexSpec[]): Tensor<D>;
  /** Values picked along `dim` by an int32 index tensor (torch.gather). */
  gather(dim: number, index: Tensor<D>): Tensor<D>;

  // In-place updates (for parameters inside noGrad, and gradients).
  /** Set every element to zero. */
  zero_(): this;
  fill_(value: number): this;
  add_(o: TensorLike): this;
  sub_(o: TensorLike): this;
  mul_(o: TensorLike): this;
  copy_(src: Tensor<D>): this;
}

declare module "./tensor" {
  // The methods are part of every Tensor's type.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Tensor<D extends Device = "cpu"> extends TensorMethods<D> {}
}

type T = Tensor<Device>;
/** One entry per method (getters aside); a missing one is a compile error. */
type Implementations = {
  [K in Exclude<keyof TensorMethods<Device>, "T">]: TensorMethods<Device>[K] extends (...args: infer A) => unknown ? (this: T, ...args: A) => unknown : never;
};

/** `f(1, 2)`, `f([1, 2])`: shape or dimension arguments, spread or as one list. */
const list = (args: Array<number | number[]>): number[] => (args.length === 1 && Array.isArray(args[0]) ? args[0] : (args as number[]));
const mapRead = <V, U>(value: V | Promise<V>, f: (v: V) => U): U | Promise<U> => (value instanceof Promise ? value.then(f) : f(value));

const implementations: Implementations = {
  clone() {
    return ops.unary("Clone", "copy", this, (g) => g, false);
  },
  to(target: DType | Device) {
    if (target === "cpu" || target === "webgpu") {
      if (target === this.device) return this;
      if (this.device !== "cpu") throw new Error(`to: reading from ${this.device} is asynchronous: use await t.cpu()`);
      return fromValues(this.data() as ArrayLike<number>, this.shape, this.dtype, target);
    }
    return ops.cast(this, target);
  },
  float() {
    return this.to("float32");
  },
  double() {
    return this.to("float64");
  },
  int() {
    return this.to("int32");
  },

  add(o) {
    return ops.add(this, o);
  },
  sub(o) {
    return ops.sub(this, o);
  },
  mul(o) {
    return ops.mul(this, o);
  },
  div(o) {
    return ops.div(this, o);
  },
  pow(o) {
    return ops.pow(this, o);
  },
  rsub(o) {
    return ops.sub(o, this);
  },
  maximum(o) {
    return ops.maximum(this, o);
  },
  minimum(o) {
    return ops.minimum(this, o);
  },
  neg() {
    return ops.neg(this);
  },
  exp() {
    return ops.exp(this);
  },
  log() {
    return ops.log(this);
  },
  sqrt() {
    return ops.sqrt(this);
  },
  abs() {
    return ops.abs(this);
  },
  sign() {
    return ops.sign(this);
  },
  tanh() {
    return ops.tanh(this);
  },
  sigmoid() {
    return ops.sigmoid(this);
  },
  relu() {
    return ops.relu(this);
  },

  lt(o) {
    return ops.compare("lt", this, o);
  },
  le(o) {
    return ops.compare("le", this, o);
  },
  gt(o) {
    return ops.compare("gt", this, o);
  },
  ge(o) {
    return ops.compare("ge", this, o);
  },
  eq(o) {
    return ops.compare("eq", this, o);
  },
  ne(o) {
    return ops.compare("ne", this, o);
  },
  equal(o) {
    if (fmt(this.shape) !== fmt(o.shape)) return this.device === "cpu" ? false : Promise.resolve(false);
    return mapRead(ops.compare("ne", this, o).sum().item(), (n) => n === 0);
  },
  allclose(o, rtol = 1e-5, atol = 1e-8) {
    return mapRead(ops.closeMismatches(this, o, rtol, atol).item(), (n) => n === 0);
  },

  sum(dim, keepdim = false) {
    return ops.sum(this, dim, keepdim);
  },
  mean(dim, keepdim = false) {
    return ops.mean(this, dim, keepdim);
  },
  max(dim, keepdim = false) {
    return ops.extreme("max", this, dim, keepdim);
  },
  min(dim, keepdim = false) {
    return ops.extreme("min", this, dim, keepdim);
  },
  argmax(dim, keepdim = false) {
    return ops.argExtreme("max", this, dim, keepdim);
  },
  argmin(dim, keepdim = false) {
    return ops.argExtreme("min", this, dim, keepdim);
  },
  norm() {
    return ops.norm(this);
  },
  softmax(dim) {
    return ops.softmax(this, dim);
  },
  logSoftmax(dim) {
    return ops.logSoftmax(this, dim);
  },

  dot(o) {
    return ops.dot(this, o);
  },
  matmul(o) {
    return ops.matmul(this, o);
  },

  reshape(...shape) {
    return ops.reshape(this, list(shape));
  },
  view(...shape) {
    return ops.reshape(this, list(shape));
  },
  flatten() {
    return ops.reshape(this, [-1]);
  },
  permute(...dims) {
    return ops.permute(this, list(dims));
  },
  transpose(dim0 = -2, dim1 = -1) {
    return ops.transpose(this, dim0, dim1);
  },
  expand(...shape) {
    return ops.expand(this, list(shape));
  },
  squeeze(dim) {
    return ops.squeeze(this, dim);
  },
  unsqueeze(dim) {
    return ops.unsqueeze(this, dim);
  },
  index(...specs) {
    return ops.index(this, specs);
  },
  gather(dim, index) {
    return ops.gather(this, dim, index);
  },

  zero_() {
    return this.fill_(0);
  },
  fill_(value) {
    return ops.assign(this, "fill_", ops.full(this.shape, value, this.dtype, this.device));
  },
  add_(o) {
    return ops.assign(this, "add_", ops.add(this.detach(), o));
  },
  sub_(o) {
    return ops.assign(this, "sub_", ops.sub(this.detach(), o));
  },
  mul_(o) {
    return ops.assign(this, "mul_", ops.mul(this.detach(), o));
  },
  copy_(src) {
    return ops.assign(this, "copy_", src.detach().expand(this.shape).to(this.dtype));
  },
};

for (const [name, value] of Object.entries(implementations)) {
  Object.defineProperty(Tensor.prototype, name, { value, writable: true, configurable: true, enumerable: false });
}
Object.defineProperty(Tensor.prototype, "T", {
  get(this: T) {
    return ops.permute(this, this.shape.map((_, i) => this.ndim - 1 - i));
  },
  configurable: true,
  enumerable: false,
});
