import { Random } from "../random";
import { fromValues, type Tensor, type TensorOptions } from "./tensor";
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

function make(shape: Shape, values: number[], options: TensorOptions): Tensor {
  const t = fromValues(values, shape, options.dtype ?? "float32", options.device ?? "cpu");
  if (options.requiresGrad) t.requiresGrad_();
  return t;
}

type Args = Array<number | Shape | TensorOptions>;
function split(op: string, args: Args): [Shape, TensorOptions] {
  const last = args[args.length - 1];
  const options = last !== undefined && typeof last === "object" && !Array.isArray(last) ? (args.pop() as TensorOptions) : {};
  return [shapeArg(op, args as Array<number | Shape>), options];
}

/** Uniform on [0, 1): rand(2, 3) or rand([2, 3], options). */
export function rand(...args: Args): Tensor {
  const [shape, options] = split("rand", args);
  return make(shape, Array.from({ length: numel(shape) }, nextRandom), options);
}

/** Standard normal (Box-Muller). */
export function randn(...args: Args): Tensor {
  const [shape, options] = split("randn", args);
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
export function randint(low: number, high: number, shape: Shape, options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new RangeError(`randint: need integers low < high, got ${low} and ${high}`);
  }
  const s = shapeArg("randint", [shape]);
  return make(s, Array.from({ length: numel(s) }, () => low + Math.floor(nextRandom() * (high - low))), { dtype: "int32", ...options });
}
