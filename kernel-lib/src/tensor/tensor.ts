import { inspect } from "node:util";
import { getBackend, type Backend, type DType, type Storage, type TypedArray } from "../backend/backend";
import { runBackward, type GradNode } from "./autograd";
import { formatTensor } from "./format";
import { fmt, numel, type Shape } from "./shape";

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
 * An n-dimensional array on a device, with reverse-mode autograd: the data
 * (storage, shape, dtype, device) and its place in the graph (grad, gradFn).
 * The op methods (`x.add(y)`) are installed from the ops by ./methods.
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

  /** A CPU copy (this tensor itself if it is on the CPU already). */
  async cpu(): Promise<Tensor<"cpu">> {
    if (this.device === "cpu") return this as unknown as Tensor<"cpu">;
    return fromValues(await this.backend.read(this._storage), this.shape, this.dtype, "cpu");
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

