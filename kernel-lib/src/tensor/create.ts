/** Creating tensors: from nested arrays or typed arrays, and filled ones. */
import type { TypedArray, DType, DefaultDevice } from "../backend/backend";
import { defaultDevice, full as fill, fromValues } from "./engine";
import type { Device, NestedArray, Tensor, TensorOptions } from "./tensor";
import { shapeArg, type Shape } from "./shape";

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
export function tensor<D extends Device = DefaultDevice>(data: NestedArray | TypedArray, options: TensorOptions<D> = {}): Tensor<D> {
  const device = (options.device ?? defaultDevice()) as D;
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
  const t = fill(shape, value, options.dtype ?? "float32", options.device ?? defaultDevice()) as Tensor<D>;
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
export function zeros<D extends Device = DefaultDevice>(shape: Shape, options?: TensorOptions<D>): Tensor<D>;
export function zeros(...args: Array<number | Shape | TensorOptions | undefined>): Tensor<Device> {
  const [shape, options] = splitOptions("zeros", args);
  return creation(shape, 0, options);
}
export function ones(...shape: number[]): Tensor;
export function ones<D extends Device = DefaultDevice>(shape: Shape, options?: TensorOptions<D>): Tensor<D>;
export function ones(...args: Array<number | Shape | TensorOptions | undefined>): Tensor<Device> {
  const [shape, options] = splitOptions("ones", args);
  return creation(shape, 1, options);
}
export function full<D extends Device = DefaultDevice>(shape: Shape, value: number, options: TensorOptions<D> = {}): Tensor<D> {
  return creation(shapeArg("full", [shape]), value, options);
}
export function zerosLike<D extends Device>(t: Tensor<D>, options: TensorOptions<D> = {}): Tensor<D> {
  return creation(t.shape, 0, { dtype: t.dtype, device: t.device, ...options });
}
export function onesLike<D extends Device>(t: Tensor<D>, options: TensorOptions<D> = {}): Tensor<D> {
  return creation(t.shape, 1, { dtype: t.dtype, device: t.device, ...options });
}

/** arange(end), arange(start, end) or arange(start, end, step); float32 unless a dtype is given. */
export function arange<D extends Device = DefaultDevice>(start: number, end?: number, step = 1, options: TensorOptions<D> = {}): Tensor<D> {
  if (end === undefined) [start, end] = [0, start];
  if (![start, end, step].every(Number.isFinite)) throw new RangeError(`arange: start, end and step must be finite, got ${start}, ${end}, ${step}`);
  if (step === 0) throw new RangeError("arange: step must not be zero");
  const n = Math.max(0, Math.ceil((end - start) / step));
  const values = Array.from({ length: n }, (_, i) => start + i * step);
  const t = fromValues(values, [n], options.dtype ?? "float32", (options.device ?? defaultDevice()) as D);
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace<D extends Device = DefaultDevice>(start: number, end: number, steps: number, options: TensorOptions<D> = {}): Tensor<D> {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative integer, got ${steps}`);
  const values = Array.from({ length: steps }, (_, i) => (steps === 1 ? start : start + ((end - start) * i) / (steps - 1)));
  const t = fromValues(values, [steps], options.dtype ?? "float32", (options.device ?? defaultDevice()) as D);
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}
