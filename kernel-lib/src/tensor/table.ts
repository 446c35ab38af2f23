/**
 * The op table: every tensor op and method, listed once. From it come the
 * methods on `Tensor.prototype` (`x.matmul(w).relu()`), the free functions
 * kernel-lib exports (`relu(x)`), and the lists the tests check: each entry's
 * kind says which checks it must have (gradient against finite differences,
 * WebGPU against the CPU, values and gradients against PyTorch), and a test
 * fails for an op that lacks one. The ops themselves, with their gradients,
 * are in ./ops; their method types are declared once, in `TensorMethods`.
 */
import { inspect } from "node:util";
import * as ops from "./ops";
import { Tensor, type DType, type DefaultDevice, type Device, type NestedArray, type Read, type TensorLike } from "./tensor";
import type { TypedArray } from "../backend/backend";

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
  /** The same values, cut from the graph: gradients do not flow through the result (it shares the memory). */
  detach(): Tensor<D>;

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
  /** log(1 + x), accurate for small x. */
  log1p(): Tensor<D>;
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

  // Shape and indexing: views that share memory with this tensor (see the README).
  reshape(...shape: Array<number | number[]>): Tensor<D>;
  /** Same as reshape (a view where the elements are in order, else a copy). */
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

  // Reading the values.
  /** The values as a flat typed array (a copy); a promise for a GPU tensor. */
  data(): Read<D, TypedArray>;
  /** The values as nested arrays (booleans for a bool tensor); a promise for a GPU tensor. */
  toArray(): Read<D, NestedArray>;
  /** The single value of a one-element tensor; a promise for a GPU tensor. */
  item(): Read<D, number>;
  /** A CPU copy (this tensor itself if it is on the CPU already). */
  cpu(): Promise<Tensor>;
  toString(): string;

  /**
   * d(this)/d(leaves), accumulated into each leaf's `grad`. Without an
   * argument this must be a single value; otherwise pass the gradient of some
   * scalar with respect to this tensor (same shape).
   */
  backward(gradient?: Tensor<D>, options?: ops.BackwardOptions): void;
  backward(options: ops.BackwardOptions): void;
  /**
   * Free this tensor's memory now. Tensors sharing the memory (detach,
   * reshape) become unusable too.
   */
  dispose(): void;
}

declare module "./tensor" {
  // The methods are part of every Tensor's type.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Tensor<D extends Device = DefaultDevice> extends TensorMethods<D> {}
}

/** What kind of op an entry is; the kind decides which checks the tests demand. */
export type OpKind =
  | "elementwise"
  | "comparison"
  | "reduction"
  | "index-reduction"
  | "product"
  | "movement"
  | "join"
  | "loss"
  | "conversion"
  | "in-place"
  | "reading"
  | "graph";

/** The test suites: gradients against finite differences, WebGPU against the CPU, values and gradients against PyTorch. */
export type OpCheck = "gradient" | "webgpu" | "torch";

export const CHECKS: Record<OpKind, readonly OpCheck[]> = {
  elementwise: ["gradient", "webgpu", "torch"],
  reduction: ["gradient", "webgpu", "torch"],
  product: ["gradient", "webgpu", "torch"],
  movement: ["gradient", "webgpu", "torch"],
  join: ["gradient", "webgpu", "torch"],
  loss: ["gradient", "webgpu", "torch"],
  "index-reduction": ["webgpu", "torch"],
  comparison: ["webgpu"],
  conversion: ["gradient", "webgpu"],
  "in-place": ["webgpu"],
  reading: ["webgpu"],
  graph: ["webgpu"],
};

export interface OpEntry {
  readonly kind: OpKind;
  /** The op: its tensor first, then the method's arguments. */
  readonly fn: (...args: never[]) => unknown;
  /** Installed as `x.name(...)` (or as a getter, `x.T`). */
  readonly method: boolean | "getter";
  /** Exported from kernel-lib as `name(x, ...)`. */
  readonly free: boolean;
  /** Elementwise ops: the number of tensor inputs, and where finite differences are valid (away: clear of a kink at 0). */
  readonly arity?: 1 | 2;
  readonly domain?: "any" | "positive" | "away";
  /** The method takes a list spread out (`x.reshape(2, 3)`) or any number of arguments. */
  readonly variadic?: boolean;
}

type T = Tensor<Device>;
type Args<K extends keyof TensorMethods<Device>> = TensorMethods<Device>[K] extends (...a: infer A) => unknown ? A : [];
/** Every declared method has an entry whose op takes the method's arguments (the compiler checks). */
type MethodEntries = { [K in keyof TensorMethods<Device>]: { fn: (x: T, ...args: Args<K>) => unknown; method: true | "getter" } };

const method = <F>(kind: OpKind, fn: F) => ({ kind, fn, method: true as const, free: false as const });
const both = <F>(kind: OpKind, fn: F) => ({ kind, fn, method: true as const, free: true as const });
const unary = <Free extends boolean = false>(fn: (x: T) => T, domain: OpEntry["domain"], free?: Free) =>
  ({ kind: "elementwise" as const, fn, method: true as const, free: (free ?? false) as Free, arity: 1 as const, domain });
const binary = <Free extends boolean = false>(fn: (x: T, o: TensorLike) => T, domain: OpEntry["domain"], free?: Free) =>
  ({ kind: "elementwise" as const, fn, method: true as const, free: (free ?? false) as Free, arity: 2 as const, domain });
const spread = <F>(kind: OpKind, fn: F) => ({ kind, fn, method: true as const, free: false as const, variadic: true });
const getter = <F>(kind: OpKind, fn: F) => ({ kind, fn, method: "getter" as const, free: false as const });
const only = <F>(kind: OpKind, fn: F) => ({ kind, fn, method: false as const, free: true as const });

export const opTable = {
  neg: unary(ops.neg, "any"),
  exp: unary(ops.exp, "any"),
  log: unary(ops.log, "positive"),
  log1p: unary(ops.log1p, "positive", true),
  sqrt: unary(ops.sqrt, "positive"),
  abs: unary(ops.abs, "away"),
  sign: unary(ops.sign, "away"),
  tanh: unary(ops.tanh, "any", true),
  sigmoid: unary(ops.sigmoid, "any", true),
  relu: unary(ops.relu, "away", true),
  add: binary(ops.add, "any"),
  sub: binary(ops.sub, "any"),
  mul: binary(ops.mul, "any"),
  div: binary(ops.div, "positive"),
  pow: binary(ops.pow, "positive"),
  rsub: binary(ops.rsub, "any"),
  maximum: binary(ops.maximum, "any", true),
  minimum: binary(ops.minimum, "any", true),
  where: only("elementwise", ops.where),

  lt: method("comparison", ops.lt),
  le: method("comparison", ops.le),
  gt: method("comparison", ops.gt),
  ge: method("comparison", ops.ge),
  eq: method("comparison", ops.eq),
  ne: method("comparison", ops.ne),

  sum: method("reduction", ops.sum),
  mean: method("reduction", ops.mean),
  max: method("reduction", ops.max),
  min: method("reduction", ops.min),
  norm: method("reduction", ops.norm),
  softmax: both("reduction", ops.softmax),
  logSoftmax: both("reduction", ops.logSoftmax),
  argmax: method("index-reduction", ops.argmax),
  argmin: method("index-reduction", ops.argmin),

  dot: both("product", ops.dot),
  matmul: both("product", ops.matmul),

  reshape: spread("movement", ops.reshape),
  view: spread("movement", ops.view),
  flatten: method("movement", ops.flatten),
  permute: spread("movement", ops.permute),
  transpose: method("movement", ops.transpose),
  T: getter("movement", ops.T),
  expand: spread("movement", ops.expand),
  squeeze: method("movement", ops.squeeze),
  unsqueeze: method("movement", ops.unsqueeze),
  index: spread("movement", ops.index),
  gather: method("movement", ops.gather),
  cat: only("join", ops.cat),
  stack: only("join", ops.stack),

  mseLoss: only("loss", ops.mseLoss),
  crossEntropy: only("loss", ops.crossEntropy),

  clone: method("conversion", ops.clone),
  to: method("conversion", ops.to),
  float: method("conversion", ops.float),
  double: method("conversion", ops.double),
  int: method("conversion", ops.int),
  detach: method("conversion", ops.detach),

  zero_: method("in-place", ops.zero_),
  fill_: method("in-place", ops.fill_),
  add_: method("in-place", ops.add_),
  sub_: method("in-place", ops.sub_),
  mul_: method("in-place", ops.mul_),
  copy_: method("in-place", ops.copy_),

  data: method("reading", ops.data),
  toArray: method("reading", ops.toArray),
  item: method("reading", ops.item),
  equal: method("reading", ops.equal),
  allclose: method("reading", ops.allclose),
  cpu: method("reading", ops.cpu),
  toString: method("reading", ops.toString),

  backward: method("graph", ops.backward),
  dispose: method("graph", ops.dispose),
} satisfies MethodEntries & Record<string, OpEntry>;

export type OpName = keyof typeof opTable;

/** (A compile error if a method in the table has no type in TensorMethods: it would be untyped.) */
type MethodName = { [K in OpName]: (typeof opTable)[K]["method"] extends false ? never : K }[OpName];
type MustBeEmpty<X extends never> = X;
export type UntypedMethods = MustBeEmpty<Exclude<MethodName, keyof TensorMethods<Device>>>;

/**
 * `x.name(...args)` calls `fn(x, ...args)`. Each method is compiled from
 * source of its own, named after it (as the stack traces show it), so that
 * its call site sees one op: closures of one shared wrapper would share one
 * call site for every op.
 */
type Method = (this: T, ...args: unknown[]) => unknown;
function makeMethod(name: string, fn: (x: T, ...args: unknown[]) => unknown, getter: boolean, variadic: boolean): Method {
  // (at most four arguments, or any number for the ops that take a list spread out: reshape(2, 3))
  const body = getter
    ? `return function ${name}() { return fn(this); }`
    : variadic
      ? `return function ${name}(...args) { return fn(this, ...args); }`
      : `return function ${name}(a, b, c, d) { return fn(this, a, b, c, d); }`;
  return new Function("fn", body)(fn) as Method;
}

for (const [name, entry] of Object.entries(opTable) as Array<[string, OpEntry]>) {
  const fn = entry.fn as (x: T, ...args: unknown[]) => unknown;
  if (entry.method === "getter") {
    Object.defineProperty(Tensor.prototype, name, { get: makeMethod(name, fn, true, false), configurable: true, enumerable: false });
  } else if (entry.method) {
    const variadic = entry.variadic === true;
    Object.defineProperty(Tensor.prototype, name, { value: makeMethod(name, fn, false, variadic), writable: true, configurable: true, enumerable: false });
  }
}
Object.defineProperty(Tensor.prototype, inspect.custom, {
  value: function (this: T) {
    return ops.toString(this);
  },
  configurable: true,
  enumerable: false,
});

/** A method as a free function whose result stays on its input's device: `relu(x)` is `x.relu()`. */
type Free<K extends keyof TensorMethods<Device>> = <D extends Device>(
  x: Tensor<D>,
  ...args: Parameters<TensorMethods<D>[K] extends (...a: never[]) => unknown ? TensorMethods<D>[K] : never>
) => ReturnType<TensorMethods<D>[K] extends (...a: never[]) => unknown ? TensorMethods<D>[K] : never>;

type FreeName = { [K in OpName]: (typeof opTable)[K]["free"] extends true ? K : never }[OpName];
type FreeFunctions = {
  [K in FreeName]: K extends keyof TensorMethods<Device> ? ((typeof opTable)[K]["method"] extends true ? Free<K> : (typeof opTable)[K]["fn"]) : (typeof opTable)[K]["fn"];
};

/** The ops kernel-lib exports as free functions (the table's entries marked `free`). */
export const functions = Object.fromEntries(
  (Object.entries(opTable) as Array<[string, OpEntry]>).filter(([, e]) => e.free).map(([name, e]) => [name, e.fn]),
) as unknown as FreeFunctions;
