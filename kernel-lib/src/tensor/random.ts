import { Random } from "../random";
import { splitOptions } from "./create";
import type { DefaultDevice } from "../backend/backend";
import { defaultDevice, fromValues } from "./engine";
import type { Device, Tensor, TensorOptions } from "./tensor";
import { numel, shapeArg, type Shape } from "./shape";

/** The generator behind rand, randn, randint and layer initialisation. */
let generator = new Random(0x5eed);

/** Make every later random draw reproducible. */
export function manualSeed(seed: number): void {
  generator = new Random(seed);
}

/** @internal */
export function nextRandom(): number {
  return generator.random();
}

function make<D extends Device>(shape: Shape, values: number[], options: TensorOptions<D>): Tensor<D> {
  const t = fromValues(values, shape, options.dtype ?? "float32", (options.device ?? defaultDevice()) as D);
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}

/** Uniform on [0, 1): rand(2, 3) or rand([2, 3], options). */
export function rand(...shape: number[]): Tensor;
export function rand<D extends Device = DefaultDevice>(shape: Shape, options?: TensorOptions<D>): Tensor<D>;
export function rand(...args: Array<number | Shape | TensorOptions | undefined>): Tensor<Device> {
  const [shape, options] = splitOptions("rand", args);
  return make(shape, Array.from({ length: numel(shape) }, nextRandom), options);
}

/** Standard normal (Box-Muller). */
export function randn(...shape: number[]): Tensor;
export function randn<D extends Device = DefaultDevice>(shape: Shape, options?: TensorOptions<D>): Tensor<D>;
export function randn(...args: Array<number | Shape | TensorOptions | undefined>): Tensor<Device> {
  const [shape, options] = splitOptions("randn", args);
  const n = numel(shape);
  const values: number[] = [];
  while (values.length < n) {
    const u = 1 - nextRandom();
    const v = nextRandom();
    const r = Math.sqrt(-2 * Math.log(u));
    values.push(r * Math.cos(2 * Math.PI * v), r * Math.sin(2 * Math.PI * v));
  }
  return make(shape, values.slice(0, n), options);
}

/** Integers uniform on [low, high), int32. */
export function randint<D extends Device = DefaultDevice>(low: number, high: number, shape: Shape, options: TensorOptions<D> = {}): Tensor<D> {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new RangeError(`randint: need integers low < high, got ${low} and ${high}`);
  }
  const s = shapeArg("randint", [shape]);
  return make(s, Array.from({ length: numel(s) }, () => low + Math.floor(nextRandom() * (high - low))), { dtype: "int32", ...options });
}
