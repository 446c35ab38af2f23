import type { DType, DefaultDevice, Device, Storage } from "../backend/backend";
import type { GradNode } from "./autograd";
import { numel, type Shape } from "./shape";

export type { DType, DefaultDevice, Device, Read } from "../backend/backend";
export type TensorLike = Tensor<Device> | number;
/** Nested arrays of numbers (or booleans), as `tensor()` takes them. */
export type NestedArray = number | boolean | NestedArray[];

export interface TensorOptions<D extends Device = Device> {
  dtype?: DType;
  device?: D;
  requiresGrad?: boolean;
}

/** Element i (multi-index) of a view is storage[offset + sum(i[d] * strides[d])]. */
export interface StridedView {
  readonly strides: readonly number[];
  readonly offset: number;
}

export const isFloat = (d: DType): boolean => d === "float32" || d === "float64";

/**
 * An n-dimensional array on a device, with reverse-mode autograd: plain data
 * (storage, shape, dtype, device) and its place in the graph (grad, gradFn).
 * Every method that computes (`x.add(y)`, `x.data()`, `x.backward()`) is
 * installed from the op table (./table), so this module imports no op and
 * the modules load in any order.
 */
export class Tensor<D extends Device = DefaultDevice> {
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
  /** @internal forward-mode tangents, by jvp() level (./forward) */
  _tangents: Map<number, Tensor<D>> | null = null;

  /**
   * @internal Where the elements sit in the storage: null when the tensor is
   * the whole storage in row-major order; otherwise strides and an offset, as
   * PyTorch's views (permute, transpose, expand, index) have them.
   */
  readonly _view: StridedView | null;

  /** @internal use `tensor()`, `zeros()` and friends */
  constructor(storage: Storage, shape: Shape, device: D, view: StridedView | null = null) {
    this._storage = storage;
    this.shape = shape;
    this.dtype = storage.dtype;
    this.device = device;
    this._view = view;
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
}
